// The coordinator client against loopback servers: answers validated at the boundary with codes, refusals keep the
// server's code, an unreachable coordinator and an abort are coded, and sockets reconnect with jittered, bounded backoff.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  Backoff, CoordinatorApiError, CoordinatorClient, apiPaths, backoffDelayMs, parseDashboardMessage, type WebSocketLike,
} from '../../../core/api/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';

const servers: { close(cb: () => void): void }[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

/** A loopback HTTP server answering every request with `status` and `body`. */
async function answering(status: number, body: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port on loopback with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const codeOf = (e: unknown): unknown => (typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined);
const createSocket = (url: string): WebSocketLike => new WebSocket(url);

describe('CoordinatorClient REST', () => {
  it("turns an answer that is not JSON into code 'bad-response'", async () => {
    const client = new CoordinatorClient({ origin: await answering(200, '<html>proxy error</html>') });
    const err = await client.swarmState().catch((e: unknown) => e);
    expect(isBouquetError(err, 'bad-response')).toBe(true);
  });

  it("turns JSON of the wrong shape into code 'bad-response' naming the field", async () => {
    const client = new CoordinatorClient({ origin: await answering(200, JSON.stringify({ kind: 'route', leaseId: 'l1', chain: 'nope' })) });
    const err = await client.requestRoute({ clientId: 'c', promptTokens: 4, maxNewTokens: 4 }).catch((e: unknown) => e);
    expect(isBouquetError(err, 'bad-response')).toBe(true);
    expect(isBouquetError(err) ? err.data?.field : undefined).toBeDefined();
  });

  it("keeps the server's own code for a refusal", async () => {
    const refusal = { kind: 'error', error: { code: 'infeasible', message: 'cannot place the swarm' } };
    const client = new CoordinatorClient({ origin: await answering(503, JSON.stringify(refusal)) });
    const err = await client.switchPlacementPolicy('milp').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoordinatorApiError);
    expect(codeOf(err)).toBe('infeasible');
  });

  it("says 'peer-unavailable' when nothing listens, and 'aborted' when the caller stopped", async () => {
    const down = new CoordinatorClient({ origin: `http://127.0.0.1:${await closedPort()}` });
    expect(isBouquetError(await down.swarmState().catch((e: unknown) => e), 'peer-unavailable')).toBe(true);
    const abort = new AbortController();
    abort.abort();
    const up = new CoordinatorClient({ origin: await answering(200, '{}') });
    expect(isBouquetError(await up.swarmState(abort.signal).catch((e: unknown) => e), 'aborted')).toBe(true);
  });
});

describe('backoff', () => {
  it('doubles up to the cap, less a random share (jitter), and gives up after maxAttempts in a row', () => {
    const policy = { firstMs: 100, maxMs: 1000, maxAttempts: 6, jitter: 0.5 };
    expect([0, 1, 2, 3, 4].map((a) => backoffDelayMs({ ...policy, random: () => 0 }, a))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelayMs({ ...policy, random: () => 0.5 }, 2)).toBe(300);
    const b = new Backoff({ firstMs: 10, maxMs: 40, maxAttempts: 3, random: () => 0.999 });
    const waits = [b.next(), b.next(), b.next(), b.next()];
    expect(waits.slice(0, 3).every((w) => w !== null && w > 0)).toBe(true);
    expect(waits[3]).toBeNull();
    b.reset();
    expect(b.next()).not.toBeNull();
  });
});

describe('CoordinatorSocket', () => {
  it('reconnects to an unreachable coordinator with jittered waits, a bounded number of times', async () => {
    const randoms = [0, 0.5, 0.25];
    let k = 0;
    const client = new CoordinatorClient({ origin: `http://127.0.0.1:${await closedPort()}`, createSocket });
    const waits: (number | null)[] = [];
    await new Promise<void>((done) => {
      client.openSocket(apiPaths.dashboardSocket, parseDashboardMessage, {
        onOpen: () => undefined,
        onMessage: () => undefined,
        onInvalid: () => undefined,
        onClose: (retryInMs) => {
          waits.push(retryInMs);
          if (retryInMs === null) done();
        },
      }, { firstMs: 20, maxMs: 1000, maxAttempts: 3, jitter: 0.5, random: () => randoms[k++] ?? 0 });
    });
    // 20·(1 − 0.5·0), 40·(1 − 0.5·0.5), 80·(1 − 0.5·0.25), then it gives up.
    expect(waits).toEqual([20, 30, 70, null]);
  });

  it('validates each message: a malformed one is reported and kept out, a good one is delivered', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: apiPaths.dashboardSocket });
    servers.push({ close: (cb) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => cb());
    } });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => {
      ws.send('not json');
      ws.send(JSON.stringify({ type: 'snapshot', state: { nope: true } }));
      ws.send(JSON.stringify({ type: 'event', atMs: 5, event: { type: 'volunteer-left', peerId: 'p1', reason: 'leave' } }));
    });
    const client = new CoordinatorClient({ origin: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, createSocket });
    const invalid: string[] = [];
    const messages: string[] = [];
    await new Promise<void>((done) => {
      const socket = client.openSocket(apiPaths.dashboardSocket, parseDashboardMessage, {
        onOpen: () => undefined,
        onMessage: (m) => {
          messages.push(m.type);
          socket.close();
          done();
        },
        onInvalid: (e) => invalid.push(e.code),
        onClose: () => undefined,
      }, { firstMs: 20, maxMs: 100, maxAttempts: 3 });
    });
    expect(invalid).toEqual(['bad-response', 'bad-response']);
    expect(messages).toEqual(['event']);
  });
});
