// Errors leaving a real coordinator: REST bodies and volunteer-socket messages rebuild as the class thrown, with code and data.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CoordinatorApiError, apiErrorFromWire, apiPaths, parseCoordinatorToVolunteerMessage, parseJsonWith, parseRouteReleased, protocolVersion, routeReleasePath,
} from '../../core/api/index.ts';
import { createServer, type BouquetServer } from '../../server/index.ts';
import { json, stories260K } from './helpers.ts';

const servers: BouquetServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(): Promise<BouquetServer> {
  const s = await createServer({ port: 0, model: stories260K, logger: 'silent', coordinator: { placementDelayMs: 5 } });
  servers.push(s);
  return s;
}

describe('coordinator errors on the wire', () => {
  it('sends a volunteer of another model a model-mismatch it rebuilds as CoordinatorApiError with its field', async () => {
    const s = await start();
    const ws = new WebSocket(s.url.replace(/^http/, 'ws') + apiPaths.volunteerSocket);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const first = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString('utf8'))));
    ws.send(JSON.stringify({
      type: 'register', peerId: 'v1', publicKey: 'pk', memoryBytes: 1e6, decodeMsPerBlock: 1,
      prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 }, backend: 'wasm', modelId: 'llama-70b', protocolVersion,
    }));
    const parsed = parseJsonWith(await first, parseCoordinatorToVolunteerMessage);
    ws.close();
    if (!parsed.ok) throw parsed.error;
    expect(parsed.value.type).toBe('error');
    if (parsed.value.type !== 'error') return;
    const back = apiErrorFromWire(parsed.value.error);
    expect(back).toBeInstanceOf(CoordinatorApiError);
    expect(back).toMatchObject({ code: 'model-mismatch', field: 'modelId' });
  });

  it('answers a release of an unknown lease with unknown-lease (404), rebuilt with that code', async () => {
    const s = await start();
    const res = await json(s.url + routeReleasePath('no-such-lease'), { body: { leaseSecret: 'any' } });
    expect(res.status).toBe(404);
    const parsed = parseRouteReleased(res.body);
    expect(parsed.ok ? 'ok' : [parsed.error.code, parsed.error.constructor]).toEqual(['unknown-lease', CoordinatorApiError]);
  });

  it('refuses a malformed body as bad-request naming the field', async () => {
    const s = await start();
    const res = await json(s.url + apiPaths.routes, { body: { clientId: 'c1' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ kind: 'error', error: { code: 'bad-request', field: expect.any(String) as string } });
  });
});
