// Attacks on the coordinator's numbers and claims (issue 13, bounded inputs and claims checked): each fails with a coded error or is clamped, honest peers undisturbed.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  apiBounds,
  apiPaths,
  parseCoordinatorToVolunteerMessage,
  parseRouteResponse,
  routeReleasePath,
  type CoordinatorToVolunteerMessage,
  type RouteGranted,
} from '../../core/api/index.ts';
import { protocolVersion } from '../../core/protocol/index.ts';
import { gbpCr } from '../../core/placement/index.ts';
import { maxSlotsPerVolunteer, type BouquetServer, type ServerOptions } from '../../server/index.ts';
import { blockBytes, budget, cacheBytesPerBlock, json, TestServers, TestVolunteer, until } from './helpers.ts';
import { askRoute, granted, servingAll } from './swarm-api.ts';

const L = 5;

// Scripted volunteers with hand-picked peer ids; each still proves its key.
const swarmOf = new TestServers({ coordinator: { keyBoundPeerIds: false } });
const volunteers = swarmOf.volunteers;
const sockets = swarmOf.sockets;
afterEach(() => swarmOf.cleanUp());

function start(coordinator: ServerOptions['coordinator'] = {}, auth?: ServerOptions['auth'], policy?: string): Promise<BouquetServer> {
  return swarmOf.start({ ...(auth !== undefined ? { auth } : {}), ...(coordinator !== undefined ? { coordinator } : {}), ...(policy !== undefined ? { policy } : {}) });
}

function join(s: BouquetServer, o: Parameters<typeof TestVolunteer.join>[1]): Promise<TestVolunteer> {
  return swarmOf.join(s, o);
}

/** Opens a raw volunteer socket, sends `messages`, and collects what comes back after the challenge. */
async function rawVolunteer(s: BouquetServer, messages: Record<string, unknown>[]): Promise<{ ws: WebSocket; replies: CoordinatorToVolunteerMessage[] }> {
  const ws = new WebSocket(s.url.replace(/^http/, 'ws') + apiPaths.volunteerSocket);
  sockets.push(ws);
  const replies: CoordinatorToVolunteerMessage[] = [];
  ws.on('message', (data: WebSocket.RawData) => {
    const parsed = parseCoordinatorToVolunteerMessage(JSON.parse(Buffer.from(data as Buffer).toString('utf8')));
    // The challenge comes first on every socket (tests/server/trust-identity.test.ts); these rows are about what follows.
    if (parsed.ok && parsed.value.type !== 'challenge') replies.push(parsed.value);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  for (const m of messages) ws.send(JSON.stringify(m));
  return { ws, replies };
}

function register(peerId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'register',
    peerId,
    publicKey: `pk-${peerId}`,
    memoryBytes: budget(5, 5),
    decodeMsPerBlock: 1,
    prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 },
    backend: 'wasm',
    modelId: 'stories260K',
    protocolVersion,
    ...fields,
  };
}

/** Every number in `v`, at any depth, is finite. */
function allFinite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (v === null || typeof v !== 'object') return true;
  return Object.values(v).every(allFinite);
}

describe('claimed memory', () => {
  it('a register with memoryBytes 1.2e12 or 1e15 is refused (bad-request, memoryBytes); the honest volunteer is untouched', async () => {
    const s = await start();
    await join(s, { peerId: 'honest', memoryBytes: budget(5, 5), heartbeatMs: 50 });
    await servingAll(s, { withSpans: true });
    for (const memoryBytes of [1.2e12, 1e15]) {
      const { replies } = await rawVolunteer(s, [register(`big-${memoryBytes}`, { memoryBytes })]);
      await until(() => replies.length > 0, 5000, 'answer');
      expect(replies[0]).toMatchObject({ type: 'error', error: { code: 'bad-request', field: 'memoryBytes' } });
    }
    s.coordinator.sweep();
    expect(s.coordinator.state().volunteers.map((v) => v.peerId)).toEqual(['honest']);
    expect(granted(await askRoute(s, { clientId: 'c', promptTokens: 4, maxNewTokens: 4 })).chain[0]?.peerId).toBe('honest');
  });

  it('the largest memory a register may claim buys at most maxSlotsPerVolunteer slots, and placement plans with no more', async () => {
    const s = await start();
    const big = await join(s, { peerId: 'big', memoryBytes: apiBounds.maxMemoryBytes });
    await servingAll(s, { withSpans: true });
    const a = await big.assignment();
    expect(a.cacheSlots).toBe(maxSlotsPerVolunteer);
    expect(s.coordinator.state().volunteers[0]?.cacheSlots).toBe(maxSlotsPerVolunteer);
    // The planners see the capped memory: GBP-CR's search (its work grows with c and the slots) stays bounded.
    const snapshot = s.coordinator.planningSnapshot();
    expect(snapshot.servers[0]?.memoryBytes).toBeLessThanOrEqual(L * blockBytes + maxSlotsPerVolunteer * cacheBytesPerBlock);
    const r = await gbpCr()(snapshot);
    expect(r.reservedSessions).toBeLessThanOrEqual(maxSlotsPerVolunteer);
    expect(Math.max(...r.assignments.map((x) => x.cacheSlots))).toBeLessThanOrEqual(maxSlotsPerVolunteer);
  });
});

describe('the event loop', () => {
  it('after the loop itself stalls past the heartbeat timeout, the next sweep keeps every heartbeating volunteer', async () => {
    const s = await start({ heartbeatTimeoutMs: 300 }, undefined, 'bprr'); // BPRR pinned: every volunteer gets a span (GBP-CR may leave some idle)
    await Promise.all(['a', 'b', 'c'].map((peerId) => join(s, { peerId, memoryBytes: budget(5, 5), heartbeatMs: 40 })));
    await servingAll(s, { withSpans: true });
    // A synchronous stall of the server's own thread (as GBP-CR on a huge claim used to cause).
    const until0 = performance.now() + 700;
    while (performance.now() < until0) {
      /* busy */
    }
    s.coordinator.sweep(); // the sweep that runs first after the stall, before the queued heartbeats are read
    expect(s.coordinator.state().volunteers).toHaveLength(3);
    const lag = s.coordinator.loopLagReport();
    expect(lag.recentMaxMs).toBeGreaterThanOrEqual(500);
    // Reported to dashboards and on /api/health.
    expect(s.coordinator.state().loopLag?.recentMaxMs).toBeGreaterThanOrEqual(500);
    const health = (await json(s.url + '/api/health')).body as { loopLag?: { recentMaxMs: number } };
    expect(health.loopLag?.recentMaxMs).toBeGreaterThanOrEqual(500);
    // A volunteer that really goes silent is still dropped.
    volunteers[0]?.stopHeartbeats();
    await until(() => s.coordinator.state().volunteers.length === 2, 5000, 'silent volunteer dropped');
  });
});

/** An honest volunteer serving every block, with a record: one successful session report through it. */
async function honestWithRecord(s: BouquetServer): Promise<void> {
  await join(s, { peerId: 'honest', memoryBytes: budget(5, 10), decodeMsPerBlock: 2, loadedSpan: { start: 0, end: L } });
  await servingAll(s, { withSpans: true });
  const first = granted(await askRoute(s, { clientId: 'c0', promptTokens: 4, maxNewTokens: 8 }));
  await json(s.url + routeReleasePath(first.leaseId), { body: { leaseSecret: first.leaseSecret, measured: { totalMs: 400, tokens: 8, firstTokenMs: 50 } } });
}

describe('claimed speed and span', () => {
  it('τ = 1e-6 is refused; a claimed loadedSpan with no ready gets no routes and no leases', async () => {
    // BPRR pinned: it gives the honest volunteer a span beside the liar's; GBP-CR's one fastest chain goes to the liar's claim.
    const s = await start({}, undefined, 'bprr');
    const tiny = await rawVolunteer(s, [register('tiny', { decodeMsPerBlock: 1e-6, loadedSpan: { start: 0, end: L } })]);
    await until(() => tiny.replies.length > 0, 5000, 'answer');
    expect(tiny.replies[0]).toMatchObject({ type: 'error', error: { code: 'bad-request', field: 'decodeMsPerBlock' } });
    // The fastest claim allowed, with all blocks "loaded", never answering the keep with ready.
    const liar = await join(s, { peerId: 'liar', memoryBytes: budget(5, 5), decodeMsPerBlock: apiBounds.minDecodeMsPerBlock, loadedSpan: { start: 0, end: L }, autoReady: false });
    await until(() => liar.messages.some((m) => m.type === 'assignment'), 5000, 'keep assignment');
    liar.ws.send(JSON.stringify({ type: 'heartbeat', load: { activeSessions: 0, freeCacheSlots: 5, state: 'serving' } }));
    await join(s, { peerId: 'honest', memoryBytes: budget(5, 5), decodeMsPerBlock: 2 });
    await s.coordinator.whenSettled();
    await until(() => s.coordinator.state().volunteers.some((v) => v.peerId === 'honest' && v.span !== null), 5000, 'honest serving');
    const chains: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await askRoute(s, { clientId: `c${i}`, promptTokens: 4, maxNewTokens: 4 });
      if (r.kind === 'route') {
        chains.push(...r.chain.map((h) => h.peerId));
        await json(s.url + routeReleasePath(r.leaseId), { body: { leaseSecret: r.leaseSecret } });
      }
    }
    expect(chains.length).toBeGreaterThan(0);
    expect(chains).not.toContain('liar');
    expect(s.coordinator.state().volunteers.find((v) => v.peerId === 'liar')).toMatchObject({ state: 'loading', span: null });
  });

  it('a new volunteer on probation holds at most one lease and is planned no faster than the checked ones', async () => {
    const s = await start();
    await honestWithRecord(s);
    // A newcomer claiming the fastest τ allowed, serving all blocks (it answers ready).
    await join(s, { peerId: 'fast', memoryBytes: budget(5, 10), decodeMsPerBlock: apiBounds.minDecodeMsPerBlock, loadedSpan: { start: 0, end: L } });
    await servingAll(s, { withSpans: true });
    const planned = new Map(s.coordinator.planningSnapshot().servers.map((x) => [x.id, x.decodeMsPerBlock]));
    expect(planned.get('fast')).toBeGreaterThanOrEqual((planned.get('honest') ?? Infinity) * 0.999);
    const leases: RouteGranted[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await askRoute(s, { clientId: `p${i}`, promptTokens: 4, maxNewTokens: 8 });
      if (r.kind === 'route') leases.push(r);
    }
    // The dashboard shows who is on probation.
    const views = s.coordinator.state().volunteers;
    expect(views.find((v) => v.peerId === 'fast')?.probation).toBe(true);
    expect(views.find((v) => v.peerId === 'honest')?.probation).toBe(false);
    const throughFast = leases.filter((g) => g.chain.some((h) => h.peerId === 'fast')).length;
    expect(throughFast).toBeLessThanOrEqual(1);
    expect(leases.length).toBeGreaterThan(throughFast); // the honest one took the rest
  });

  // A network change: the client's own chain runs through the newcomer, and the other hop fails over.
  it("a probation volunteer's one lease does not lock its own client out of it on failover", async () => {
    const s = await start();
    await honestWithRecord(s);
    await join(s, { peerId: 'fresh', memoryBytes: budget(5, 10), decodeMsPerBlock: 2, loadedSpan: { start: 0, end: L } });
    await servingAll(s, { withSpans: true });
    // The chat's failover of its first hop landed on the newcomer: its one probation lease.
    const own = granted(await askRoute(s, { clientId: 'chat', promptTokens: 4, maxNewTokens: 8, span: { start: 0, end: 2 }, excludePeers: ['honest'] }));
    expect(own.chain.map((h) => h.peerId)).toEqual(['fresh']);
    expect(s.coordinator.state().volunteers.find((v) => v.peerId === 'fresh')?.probation).toBe(true);
    // Its next failover (the other hop, the honest one gone for it) may use the newcomer again…
    const again = await askRoute(s, { clientId: 'chat', promptTokens: 4, maxNewTokens: 8, span: { start: 2, end: L }, excludePeers: ['honest'] });
    expect(again.kind).toBe('route');
    if (again.kind === 'route') expect(again.chain.map((h) => h.peerId)).toEqual(['fresh']);
    // …while another client still may not (the cap holds for strangers).
    const other = await askRoute(s, { clientId: 'other', promptTokens: 4, maxNewTokens: 8, span: { start: 2, end: L }, excludePeers: ['honest'], noQueue: true });
    expect(other.kind).not.toBe('route');
  });
});

describe('claimed RTTs and requests', () => {
  it('11 route requests with rttMs 1e308 are clamped: every answer, the swarm state and the dashboard stay finite', async () => {
    const s = await start();
    await join(s, { peerId: 'a', memoryBytes: budget(5, 20) });
    await servingAll(s, { withSpans: true });
    const answers: unknown[] = [];
    for (let i = 0; i < 11; i++) {
      const r = await json(s.url + apiPaths.routes, { body: { clientId: `evil${i}`, promptTokens: 4, maxNewTokens: 4, rttMs: { a: 1e308 } } });
      answers.push(r.body);
      const p = parseRouteResponse(r.body);
      if (p.ok && p.value.kind === 'route') await json(s.url + routeReleasePath(p.value.leaseId), { body: { leaseSecret: p.value.leaseSecret } });
    }
    const honest = await json(s.url + apiPaths.routes, { body: { clientId: 'honest', promptTokens: 4, maxNewTokens: 4 } });
    answers.push(honest.body);
    for (const a of answers) expect(allFinite(a)).toBe(true);
    const parsed = parseRouteResponse(honest.body);
    if (!parsed.ok) throw parsed.error;
    const g = granted(parsed.value);
    expect(g.predicted.totalMs).toBeLessThan(12 * apiBounds.maxRttMs * 4);
    const snap = s.coordinator.planningSnapshot();
    expect(snap.network.clientServerRttMs['typical-client']?.a).toBe(apiBounds.maxRttMs);
    expect(allFinite((await json(s.url + apiPaths.swarm)).body)).toBe(true);
  });

  it('100 bogus route requests (refused) leave the planned workload and the predicted per-token time unchanged', async () => {
    // Rate limits off: 130 requests from one address would be refused as rate-limited (tests/server/fair-use.test.ts),
    // and this test is about what refused and granted requests do to the planned workload.
    const s = await start({}, { routeRateLimits: 'off' });
    await join(s, { peerId: 'a', memoryBytes: budget(5, 5) });
    await servingAll(s, { withSpans: true });
    const before = s.coordinator.planningSnapshot().workload;
    for (let i = 0; i < 100; i++) {
      // Refused: every volunteer excluded (no-route), with the longest lengths a session allows.
      const r = await askRoute(s, { clientId: `bogus${i}`, promptTokens: 256, maxNewTokens: 256, excludePeers: ['a'] });
      expect(r).toMatchObject({ kind: 'error', error: { code: 'no-route' } });
    }
    expect(s.coordinator.planningSnapshot().workload).toEqual(before);
    // Granted requests do shape it (so the check above can fail): one client counts at most 10 of the window's 100.
    for (let i = 0; i < 30; i++) {
      const g = granted(await askRoute(s, { clientId: 'busy', promptTokens: 256, maxNewTokens: 256 }));
      await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret } });
    }
    expect(s.coordinator.planningSnapshot().workload.meanInputTokens).toBe(256);
    const g = granted(await askRoute(s, { clientId: 'other', promptTokens: 4, maxNewTokens: 4 }));
    await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret } });
    expect(s.coordinator.planningSnapshot().workload.meanInputTokens).toBeCloseTo((10 * 256 + 4) / 11, 6);
  });
});
