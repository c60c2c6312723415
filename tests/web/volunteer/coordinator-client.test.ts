// The volunteer's coordinator socket against a loopback WebSocket server: it answers each (re)connection's challenge with its registration first,
// and gives up after its bounded reconnects with code 'offline'.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { apiPaths, protocolVersion, type RegisterMessage } from '../../../core/api/index.ts';
import type { BouquetError } from '../../../core/errors/index.ts';
import { WebSocketCoordinator, type CoordinatorHandlers } from '../../../web/volunteer/index.ts';

const registration: RegisterMessage = {
  type: 'register', peerId: 'v1', publicKey: 'k', memoryBytes: 1 << 20, decodeMsPerBlock: 1,
  prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 }, backend: 'wasm', modelId: 'stories260K', protocolVersion,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** The registration for a challenge (the nonce stands in for the signature, so the test sees which challenge it answered). */
const signed = (nonce: string): Promise<RegisterMessage> => Promise.resolve({ ...registration, signature: nonce });

function handlers(over: Partial<CoordinatorHandlers>): CoordinatorHandlers {
  return { onRegistered: () => undefined, onAssignment: () => undefined, onError: () => undefined, onConnection: () => undefined, ...over };
}

describe('WebSocketCoordinator', () => {
  it("answers every connection's challenge with its registration first, again after the coordinator drops it", async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: apiPaths.volunteerSocket });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const firstMessages: unknown[] = [];
    let nonces = 0;
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ type: 'challenge', nonce: `n${++nonces}` }));
      ws.once('message', (d: Buffer) => {
        firstMessages.push(JSON.parse(d.toString('utf8')));
        if (firstMessages.length === 1) ws.close(); // the coordinator restarts
      });
    });
    const coordinator = new WebSocketCoordinator({
      origin: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, createSocket: (url) => new WebSocket(url), reconnectBaseMs: 10,
    });
    const connections: boolean[] = [];
    coordinator.start(signed, handlers({ onConnection: (up) => connections.push(up) }));
    cleanups.push(async () => {
      await coordinator.leave();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    });
    await expect.poll(() => firstMessages.length, { timeout: 5000 }).toBe(2);
    expect(firstMessages).toEqual([{ ...registration, signature: 'n1' }, { ...registration, signature: 'n2' }]);
    expect(connections.slice(0, 3)).toEqual([true, false, true]);
  });

  it("stops after its bounded reconnects to an unreachable coordinator and says so with code 'offline'", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    let attempts = 0;
    const coordinator = new WebSocketCoordinator({
      origin: `http://127.0.0.1:${port}`, reconnectBaseMs: 5, reconnectMaxMs: 20, maxReconnects: 3,
      createSocket: (url) => {
        attempts++;
        return new WebSocket(url);
      },
    });
    const error = await new Promise<BouquetError>((resolve) => coordinator.start(signed, handlers({ onError: resolve })));
    expect(error.code).toBe('offline');
    expect(attempts).toBe(4); // the first try and 3 reconnects
    await new Promise((r) => setTimeout(r, 100));
    expect(attempts).toBe(4);
  });
});
