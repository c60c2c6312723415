// Fair use: a flooding client is rate-limited, cannot take every session nor fill the queue, and a dashboard that never reads is dropped.
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiPaths, routeReleasePath, routeTicketPath, type RouteResponse } from '../../core/api/index.ts';
import type { BouquetServer, ServerOptions } from '../../server/index.ts';
import { blockBytes, cacheBytesPerBlock, json, rawRequest, TestServers, TestVolunteer, until } from './helpers.ts';

// Scripted volunteers with hand-picked ids and no heartbeats (a timeout longer than any test).
const swarmOf = new TestServers({ coordinator: { heartbeatTimeoutMs: 600_000, keyBoundPeerIds: false } });
const volunteers = swarmOf.volunteers;
const sockets = swarmOf.sockets;
afterEach(() => swarmOf.cleanUp());

function start(options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  return swarmOf.start(options);
}

/** One volunteer holding the whole model with `slots` sessions of cache. */
async function oneVolunteer(s: BouquetServer, slots: number): Promise<void> {
  volunteers.push(await TestVolunteer.join(s.url, { peerId: 'v', memoryBytes: 5 * blockBytes + slots * 5 * cacheBytesPerBlock, loadedSpan: { start: 0, end: 5 } }));
  await s.coordinator.whenSettled();
  await until(() => s.coordinator.state().volunteers.every((v) => v.state === 'serving'), 5000, 'volunteer serving');
}

/** POSTs a route request from `localAddress` (a loopback address of its own: the server keys fair use on it). */
async function ask(s: BouquetServer, clientId: string, localAddress: string): Promise<{ status: number; answer: RouteResponse; retryAfter?: string }> {
  const r = await rawRequest(s.url + apiPaths.routes, {
    headers: { 'content-type': 'application/json' },
    // Long sessions (≈ 10 s predicted): a booking counts until its predicted end.
    body: JSON.stringify({ clientId, promptTokens: 4, maxNewTokens: 400 }),
    localAddress,
  });
  const retryAfter = r.headers['retry-after'];
  return { status: r.status, answer: r.body as RouteResponse, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) };
}

const kindOrCode = (a: RouteResponse): string => (a.kind === 'error' ? a.error.code : a.kind);

function tally(answers: RouteResponse[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[kindOrCode(a)] = (out[kindOrCode(a)] ?? 0) + 1;
  return out;
}

describe('fair use of route requests', () => {
  it('rate-limits one client and one address (429 rate-limited, Retry-After); others are still served', async () => {
    const s = await start({ auth: { routeRateLimits: { perClient: { perSecond: 0.01, burst: 3 }, perAddress: { perSecond: 0.01, burst: 8 } } } });
    await oneVolunteer(s, 40);
    const one: RouteResponse[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await ask(s, 'greedy', '127.0.0.2');
      if (r.answer.kind === 'error') {
        expect(r.status).toBe(429);
        expect(Number(r.retryAfter)).toBeGreaterThan(0);
      }
      one.push(r.answer);
    }
    expect(tally(one)).toEqual({ route: 3, 'rate-limited': 7 });
    // The same address making up a new client id per request: the address's bucket stops it.
    const rotating: RouteResponse[] = [];
    for (let i = 0; i < 20; i++) rotating.push((await ask(s, `fresh-${i}`, '127.0.0.2')).answer);
    expect(tally(rotating)).toEqual({ route: 5, 'rate-limited': 15 });
    expect(rotating.filter((a) => a.kind === 'error').every((a) => a.kind === 'error' && a.error.data?.scope === 'address')).toBe(true);
    // An honest client on another address is undisturbed.
    expect((await ask(s, 'alice', '127.0.0.1')).answer.kind).toBe('route');
  });

  it('one client with no rate limit cannot take all sessions nor fill the queue; others are still served', async () => {
    // BPRR pinned: the tally counts whole-slot sessions (6 slots, 6 sessions); bouquet's declared-length bookings would fit more.
    const s = await start({
      policy: 'bprr',
      auth: { routeRateLimits: 'off' },
      coordinator: { maxQueueLength: 20, fairUse: { maxLeasesPerClient: 2, maxLeasesPerAddress: 4, maxQueuedPerClient: 2, maxQueuedPerAddress: 4 } },
    });
    await oneVolunteer(s, 6);
    // One client id from one address: two sessions, then over-quota.
    const greedy = await Promise.all(Array.from({ length: 30 }, () => ask(s, 'greedy', '127.0.0.2')));
    expect(tally(greedy.map((r) => r.answer))).toEqual({ route: 2, 'over-quota': 28 });
    expect(greedy.find((r) => r.answer.kind === 'error')?.status).toBe(429);
    // The same address under new ids: its address cap (4 sessions) holds.
    const rotating = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(s, `fresh-${i}`, '127.0.0.2')));
    expect(tally(rotating.map((r) => r.answer))).toEqual({ route: 2, 'over-quota': 28 });
    // A second address fills the last two sessions, then may queue only 4 entries of the 20.
    const second = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(s, `other-${i}`, '127.0.0.3')));
    expect(tally(second.map((r) => r.answer))).toEqual({ route: 2, queued: 4, 'over-quota': 24 });
    expect(s.coordinator.state().queueLength).toBe(4);
    // The honest client is queued (not refused) and served when a session frees.
    const alice = await ask(s, 'alice', '127.0.0.1');
    expect(alice.answer.kind).toBe('queued');
    const held = [...greedy, ...rotating, ...second].flatMap((r) => (r.answer.kind === 'route' ? [r.answer] : []));
    for (const g of held) await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret } });
    const ticket = alice.answer.kind === 'queued' ? alice.answer.ticketId : '';
    const polled = await json(`${s.url}${routeTicketPath(ticket)}?waitMs=5000`);
    expect(polled.body).toMatchObject({ kind: 'route' });
  });

  it('a request that asks not to queue (a verified-results check) is granted now or refused, and never joins the queue', async () => {
    const s = await start({ auth: { routeRateLimits: 'off' } });
    await oneVolunteer(s, 1);
    const body = (clientId: string, noQueue?: boolean): object => ({ clientId, promptTokens: 4, maxNewTokens: 400, ...(noQueue !== undefined ? { noQueue } : {}) });
    // With a free session it is granted like any other.
    const first = await json(s.url + apiPaths.routes, { body: body('checker', true) });
    expect(first.body).toMatchObject({ kind: 'route' });
    // Full: refused at once with queue-full, and the queue stays empty; a plain request still queues.
    const refused = await json(s.url + apiPaths.routes, { body: body('checker-2', true) });
    expect((refused.body as { error?: { code: string } }).error?.code).toBe('queue-full');
    expect(s.coordinator.state().queueLength).toBe(0);
    const plain = await json(s.url + apiPaths.routes, { body: body('plain') });
    expect(plain.body).toMatchObject({ kind: 'queued' });
    // While someone waits, it does not jump the queue either.
    const behind = await json(s.url + apiPaths.routes, { body: body('checker-3', true) });
    expect((behind.body as { error?: { code: string } }).error?.code).toBe('queue-full');
    expect(s.coordinator.state().queueLength).toBe(1);
    // A non-boolean is a coded bad request.
    const bad = await json(s.url + apiPaths.routes, { body: { ...body('x'), noQueue: 'yes' } });
    expect((bad.body as { error?: { code: string; field?: string } }).error).toMatchObject({ code: 'bad-request', field: 'noQueue' });
  });
});

/** A dashboard socket that never reads: the handshake is sent, then the socket is paused (what arrives stays in the kernel). */
function deafDashboard(s: BouquetServer): Promise<net.Socket> {
  const { port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `GET ${apiPaths.dashboardSocket} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

describe('dashboard sockets', () => {
  it('10 dashboards that never read + 60k events: memory stays bounded, the slow readers are dropped, a reading dashboard gets every event', async () => {
    const s = await start({ dashboards: { maxBufferedBytes: 256 * 1024 } });
    await oneVolunteer(s, 40);
    const deaf = await Promise.all(Array.from({ length: 10 }, () => deafDashboard(s)));
    const reader = new WebSocket(s.url.replace(/^http/, 'ws') + apiPaths.dashboardSocket);
    let events = 0;
    reader.on('message', () => events++);
    await new Promise((r) => reader.once('open', r));
    await until(() => events >= 1, 5000, 'snapshot');
    // What the server still holds after the flood, garbage collected (gc exposed at run time for this measurement).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const heldBytes = (): number => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.external;
    };
    const baselineBytes = heldBytes();
    const cycles = 30_000;
    for (let i = 0; i < cycles; i++) {
      const r = s.coordinator.requestRoute({ clientId: `c${i % 8}`, promptTokens: 4, maxNewTokens: 4 });
      if (r.kind !== 'route') throw new Error(`no route: ${JSON.stringify(r)}`);
      s.coordinator.release(r.leaseId, r.leaseSecret); // two events: granted, released
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    await until(() => events >= 1 + 2 * cycles, 60_000, 'every event at the reading dashboard');
    // Unbounded, the deaf sockets hold every event queued (≈ 100 MB here even with one serialization per event).
    expect(heldBytes() - baselineBytes).toBeLessThan(24 * 1024 * 1024);
    expect(reader.readyState).toBe(WebSocket.OPEN);
    // Reading now, each deaf socket finds its end: the server dropped it.
    const ended = deaf.map((d) => new Promise<void>((resolve) => d.once('close', () => resolve())));
    for (const d of deaf) d.resume();
    await Promise.all(ended);
    reader.close();
  }, 150_000);

  it('refuses dashboards past the cap with 503 too-many-connections', async () => {
    const s = await start({ dashboards: { maxSockets: 2 } });
    const open = (): Promise<{ status: number; body: string }> =>
      new Promise((resolve) => {
        const ws = new WebSocket(s.url.replace(/^http/, 'ws') + apiPaths.dashboardSocket);
        ws.on('open', () => resolve({ status: 101, body: '' }));
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on('error', () => undefined);
        sockets.push({ destroy: () => ws.terminate() });
      });
    expect((await open()).status).toBe(101);
    expect((await open()).status).toBe(101);
    const third = await open();
    expect(third.status).toBe(503);
    expect(JSON.parse(third.body)).toMatchObject({ error: { code: 'too-many-connections' } });
  });
});
