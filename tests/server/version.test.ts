// A volunteer of another protocol version is refused at register with `version-mismatch`; the swarm is undisturbed.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiPaths, parseSwarmState, protocolVersion } from '../../core/api/index.ts';
import { createServer, type BouquetServer } from '../../server/index.ts';
import { stories260K, TestVolunteer, until } from './helpers.ts';

const servers: BouquetServer[] = [];
const volunteers: TestVolunteer[] = [];

afterEach(async () => {
  await Promise.all(volunteers.splice(0).map((v) => v.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('protocol version on register', () => {
  it('answers another version with version-mismatch, registers nothing, and keeps serving the others', async () => {
    const s = await createServer({ port: 0, model: stories260K, logger: 'silent', coordinator: { placementDelayMs: 5, keyBoundPeerIds: false } });
    servers.push(s);
    const good = await TestVolunteer.join(s.url, { peerId: 'current', memoryBytes: 64 << 20 });
    volunteers.push(good);

    const ws = new WebSocket(s.url.replace('http', 'ws') + apiPaths.volunteerSocket);
    await new Promise((r) => ws.once('open', r));
    const replies: unknown[] = [];
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as { type?: string };
      if (m.type !== 'challenge') replies.push(m);
    });
    const register = {
      type: 'register', peerId: 'old', publicKey: 'k', memoryBytes: 64 << 20, decodeMsPerBlock: 1,
      prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 }, backend: 'wasm', modelId: s.model.info.id,
    };
    ws.send(JSON.stringify({ ...register, protocolVersion: protocolVersion + 1 }));
    ws.send(JSON.stringify(register)); // from before the field: version 0
    ws.send(JSON.stringify({ type: 'heartbeat', load: { activeSessions: 0, freeCacheSlots: 1, state: 'serving' } }));
    await until(() => replies.length === 3, 2000, 'three replies');
    expect(replies[0]).toMatchObject({ type: 'error', error: { code: 'version-mismatch', field: 'protocolVersion' } });
    expect(replies[1]).toMatchObject({ type: 'error', error: { code: 'version-mismatch' } });
    expect(replies[2]).toMatchObject({ type: 'error', error: { code: 'not-registered' } });
    ws.close();

    const res = await fetch(new URL(apiPaths.swarm, s.url));
    const state = parseSwarmState(await res.json());
    if (!state.ok) throw state.error;
    expect(state.value.volunteers.map((v) => v.peerId)).toEqual(['current']);
    expect(good.closedWith).toBeUndefined();
  });
});
