// The signaling + coordinator server over loopback: real WebSockets, real PeerJS server, real placement and routing.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  apiPaths,
  parseDashboardMessage,
  parsePlacementPolicyChanged,
  type DashboardMessage,
  type SwarmState,
} from '../../core/api/index.ts';
import type { BouquetServer, ServerOptions } from '../../server/index.ts';
import { adminHeaders, blockBytes, budget, cacheBytesPerBlock, json, stories260K, TestServers, TestVolunteer, until } from './helpers.ts';
import { askRoute, granted, servingAll, swarmState } from './swarm-api.ts';

const L = 5;

let webDir: string;

beforeAll(async () => {
  webDir = await mkdtemp(path.join(tmpdir(), 'bouquet-web-'));
  await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Bouquet</title>');
  await writeFile(path.join(webDir, 'app.js'), 'console.log("hi")');
  return () => rm(webDir, { recursive: true, force: true });
});

// Scripted volunteers with hand-picked peer ids (v1, v2…); each still proves its key. Most send no heartbeats: on a
// loaded machine a test can outlast the default 10 s timeout (the MILP switch did), so tests of timeouts set their own.
const swarmOf = new TestServers({ coordinator: { keyBoundPeerIds: false, heartbeatTimeoutMs: 600_000 } });
const servers = swarmOf.servers;
afterEach(() => swarmOf.cleanUp());

function start(options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  return swarmOf.start({ webDir, ...options });
}

function join(s: BouquetServer, o: Parameters<typeof TestVolunteer.join>[1]): Promise<TestVolunteer> {
  return swarmOf.join(s, o);
}

function coveredBlocks(st: SwarmState): Set<number> {
  const covered = new Set<number>();
  for (const v of st.volunteers) if (v.span !== null) for (let b = v.span.start; b < v.span.end; b++) covered.add(b);
  return covered;
}

describe('volunteers', () => {
  it('a volunteer registering over the WebSocket gets registered, then an assignment it can hold', async () => {
    const s = await start();
    const v = await join(s, { peerId: 'vol-a', memoryBytes: budget(5, 5) });
    const registered = v.messages.find((m) => m.type === 'registered');
    expect(registered?.type === 'registered' && registered.model.numBlocks).toBe(L);
    const a = await v.assignment();
    expect(a.span).toEqual({ start: 0, end: 5 });
    expect(a.reason).toBe('join');
    expect(a.cacheSlots).toBe(5);
    await servingAll(s);
    expect((await swarmState(s)).volunteers[0]).toMatchObject({ peerId: 'vol-a', state: 'serving', span: { start: 0, end: 5 } });
  });

  it('refuses malformed messages with the field named and keeps the socket open', async () => {
    const s = await start();
    const ws = new WebSocket(s.url.replace('http', 'ws') + apiPaths.volunteerSocket);
    await new Promise((r) => ws.once('open', r));
    const replies: unknown[] = [];
    ws.on('message', (d: Buffer) => replies.push(JSON.parse(d.toString('utf8'))));
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'heartbeat', load: { activeSessions: 0, freeCacheSlots: 1, state: 'serving' } }));
    ws.send(JSON.stringify({ type: 'register', peerId: 'x', publicKey: 'k', memoryBytes: -5 }));
    await until(() => replies.length === 3, 2000, 'three error replies');
    expect(replies[0]).toMatchObject({ type: 'error', error: { code: 'bad-request', field: '(message)' } });
    expect(replies[1]).toMatchObject({ type: 'error', error: { code: 'not-registered' } });
    expect(replies[2]).toMatchObject({ type: 'error', error: { code: 'bad-request', field: 'memoryBytes' } });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('refuses a volunteer for another model and closes its socket', async () => {
    const s = await start();
    await expect(TestVolunteer.join(s.url, { peerId: 'wrong', memoryBytes: budget(5, 5), modelId: 'llama-70b' })).rejects.toThrow(/model-mismatch/);
  });

  it('several volunteers with different budgets get a placement covering all blocks, each within its memory', async () => {
    const s = await start();
    const budgets = { small: budget(2, 2), medium: budget(3, 3), large: budget(4, 4) };
    const vs = await Promise.all(Object.entries(budgets).map(([peerId, memoryBytes]) => join(s, { peerId, memoryBytes })));
    await servingAll(s);
    const st = await swarmState(s);
    expect([...coveredBlocks(st)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(st.placement.uncoveredBlocks).toEqual([]);
    for (const v of vs) {
      const a = await v.assignment();
      const m = a.span === null ? 0 : a.span.end - a.span.start;
      // weights + at least one session's cache fit the budget
      expect(m * (blockBytes + cacheBytesPerBlock)).toBeLessThanOrEqual(v.options.memoryBytes);
    }
    // the dashboard compares policies on the same volunteers
    await until(() => s.coordinator.state().predictions.length > 1, 5000, 'predictions');
    // BPRR's prediction runs in the prediction thread (it is not the policy in force): wait for its answer.
    await until(() => (s.coordinator.state().predictions.find((x) => x.policy === 'bprr')?.perTokenMs ?? 0) > 0, 5000, 'bprr prediction');
  });

  it('a heartbeat timeout expires a silent peer and re-placement moves one redundant volunteer to cover its blocks', async () => {
    const s = await start({ coordinator: { heartbeatTimeoutMs: 400, heartbeatIntervalMs: 100 } });
    const events: DashboardMessage[] = [];
    s.coordinator.subscribe((m) => events.push(m));
    // Spans fixed by what each volunteer already holds: 'silent' alone holds blocks 3 and 4.
    const a = await join(s, { peerId: 'a', memoryBytes: budget(3, 3), heartbeatMs: 100, loadedSpan: { start: 0, end: 3 } });
    const silent = await join(s, { peerId: 'silent', memoryBytes: budget(3, 3), heartbeatMs: 100, loadedSpan: { start: 2, end: 5 } });
    const c = await join(s, { peerId: 'c', memoryBytes: budget(3, 3), heartbeatMs: 100, loadedSpan: { start: 0, end: 3 } });
    await servingAll(s);
    expect([...coveredBlocks(s.coordinator.state())].sort()).toEqual([0, 1, 2, 3, 4]);

    silent.stopHeartbeats();
    await until(() => silent.closedWith !== undefined, 3000, 'silent peer closed');
    expect(silent.closedWith).toBe(4003);
    const left = events.find((e) => e.type === 'event' && e.event.type === 'volunteer-left');
    expect(left?.type === 'event' && left.event).toEqual({ type: 'volunteer-left', peerId: 'silent', reason: 'timeout' });
    await until(
      () => events.some((e) => e.type === 'event' && e.event.type === 'placement' && e.event.moved.length > 0),
      3000,
      'a placement that moves a volunteer',
    );
    await servingAll(s);
    const st = s.coordinator.state();
    expect(st.volunteers.map((v) => v.peerId).sort()).toEqual(['a', 'c']);
    expect([...coveredBlocks(st)].sort()).toEqual([0, 1, 2, 3, 4]);
    // Exactly one of the two redundant holders reloaded, told why.
    const moves = [...a.messages, ...c.messages].filter((m) => m.type === 'assignment' && m.reason === 'cover-gap');
    expect(moves).toHaveLength(1);
    const r = granted(await askRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 }));
    expect(r.chain.every((h) => h.peerId !== 'silent')).toBe(true);
  });
});

describe('placement policy switch', () => {
  it('switches the policy in force, re-places volunteers, and refuses unknown or infeasible policies', async () => {
    const s = await start({ policy: 'bprr' }); // BPRR pinned: the switch starts from it
    const vs = [
      await join(s, { peerId: 'p', memoryBytes: budget(3, 3), loadedSpan: { start: 0, end: 3 } }),
      await join(s, { peerId: 'q', memoryBytes: budget(3, 3), loadedSpan: { start: 0, end: 3 } }),
      await join(s, { peerId: 'r', memoryBytes: budget(3, 3), loadedSpan: { start: 2, end: 5 } }),
    ];
    await servingAll(s);
    const unknown = await json(s.url + apiPaths.placementPolicy, { headers: adminHeaders(s), body: { policy: 'astrology' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: { code: 'bad-request', field: 'policy' } });
    // PETALS reserves cache for 4096 tokens per block: these budgets cannot hold a block under its rule.
    const petals = await json(s.url + apiPaths.placementPolicy, { headers: adminHeaders(s), body: { policy: 'petals' } });
    expect(petals.status).toBe(503);
    expect(petals.body).toMatchObject({ error: { code: 'infeasible' } });
    expect(s.coordinator.state().placement.policy).toBe('bprr');

    const ok = await json(s.url + apiPaths.placementPolicy, { headers: adminHeaders(s), body: { policy: 'gbp-cr' } });
    expect(ok.status).toBe(200);
    const changed = parsePlacementPolicyChanged(ok.body);
    if (!changed.ok) throw changed.error;
    expect(changed.value.placement.policy).toBe('gbp-cr');
    await servingAll(s);
    const st = s.coordinator.state();
    expect(st.placement.policy).toBe('gbp-cr');
    for (const id of changed.value.moved) {
      const v = vs.find((x) => x.peerId === id);
      // GBP-CR may leave a volunteer idle: it is told so ('idle'), the others move ('rebalance').
      const last = v === undefined ? undefined : await v.assignment();
      expect(last?.reason === 'rebalance' || (last?.reason === 'idle' && last.span === null)).toBe(true);
    }
    // Still routable end to end after the switch.
    const g = granted(await askRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 }));
    expect(g.chain[g.chain.length - 1]?.span.end).toBe(L);
  });
});

describe('exact MILP on the coordinator', () => {
  it('its prediction reaches the dashboard (pending first), computed in a thread while routes are still answered', async () => {
    const s = await start();
    const events: DashboardMessage[] = [];
    s.coordinator.subscribe((m) => events.push(m));
    await Promise.all([['p', 3], ['q', 3], ['r', 2]].map(([peerId, n]) => join(s, { peerId: String(peerId), memoryBytes: budget(Number(n), 3) })));
    await servingAll(s);
    const predictionsOf = (m: DashboardMessage): { policy: string; perTokenMs: number | null; pending?: boolean }[] =>
      m.type === 'event' && m.event.type === 'predictions' ? m.event.predictions : [];
    // The first list says every other policy is still computing (each runs in the prediction thread, off the event loop).
    const first = events.map(predictionsOf).find((ps) => ps.length > 0) ?? [];
    expect(first.find((p) => p.policy === 'milp')).toMatchObject({ pending: true, perTokenMs: null });
    expect(first.find((p) => p.policy === 'gbp-cr')).toMatchObject({ pending: true, perTokenMs: null });
    // While it may still be solving, the coordinator answers a route at once.
    const g = granted(await askRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 }));
    expect(g.chain[g.chain.length - 1]?.span.end).toBe(L);
    await s.coordinator.whenPredicted();
    const milp = s.coordinator.state().predictions.find((p) => p.policy === 'milp');
    expect(milp?.pending).toBeUndefined();
    expect(milp?.perTokenMs).toBeGreaterThan(0);
    expect(s.coordinator.state().predictions.find((p) => p.policy === 'gbp-cr')?.perTokenMs).toBeGreaterThan(0);
    // The dashboard's snapshot carries it too, and it validates at the boundary.
    expect((await swarmState(s)).predictions.find((p) => p.policy === 'milp')?.perTokenMs).toBe(milp?.perTokenMs);
  });

  it('can be switched to: the MILP places the volunteers from its thread and routes follow', async () => {
    const s = await start();
    await Promise.all([['p', 3], ['q', 3], ['r', 2]].map(([peerId, n]) => join(s, { peerId: String(peerId), memoryBytes: budget(Number(n), 3) })));
    await servingAll(s);
    const ok = await json(s.url + apiPaths.placementPolicy, { headers: adminHeaders(s), body: { policy: 'milp' } });
    expect(ok.status).toBe(200);
    await servingAll(s);
    expect(s.coordinator.state().placement.policy).toBe('milp');
    expect(s.coordinator.state().placement.uncoveredBlocks).toEqual([]);
    const g = granted(await askRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 }));
    expect(g.chain[g.chain.length - 1]?.span.end).toBe(L);
  });
});

describe('restart', () => {
  it('after a coordinator restart, volunteers re-registering with their loaded spans restore service', async () => {
    const s1 = await start();
    const a = await join(s1, { peerId: 'a', memoryBytes: budget(3, 3) });
    await servingAll(s1);
    const b = await join(s1, { peerId: 'b', memoryBytes: budget(3, 3) });
    await servingAll(s1);
    const spans = { a: a.span, b: b.span };
    const port = s1.port;
    await s1.close();
    servers.splice(servers.indexOf(s1), 1);
    await until(() => a.closedWith !== undefined && b.closedWith !== undefined, 3000, 'sockets closed by the restart');

    const s2 = await start({ port });
    const events: DashboardMessage[] = [];
    s2.coordinator.subscribe((m) => events.push(m));
    const loaded = (span: typeof a.span): { loadedSpan?: { start: number; end: number } } => (span === null ? {} : { loadedSpan: span });
    const a2 = await join(s2, { peerId: 'a', memoryBytes: budget(3, 3), ...loaded(spans.a) });
    const b2 = await join(s2, { peerId: 'b', memoryBytes: budget(3, 3), ...loaded(spans.b) });
    // Routes right away, before any placement run: the loaded spans serve at once.
    const r = granted(await askRoute(s2, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 }));
    expect(r.chain[r.chain.length - 1]?.span.end).toBe(L);
    expect((await a2.assignment()).reason).toBe('keep');
    expect((await b2.assignment()).reason).toBe('keep');
    await s2.coordinator.whenSettled();
    // Nobody reloads: no assignment other than the 'keep' ones.
    expect([...a2.messages, ...b2.messages].filter((m) => m.type === 'assignment' && m.reason !== 'keep')).toEqual([]);
  });
});

describe('http', () => {
  it('the PeerJS server answers on the same port, over HTTP and WebSocket', async () => {
    const s = await start();
    const info = await json(s.url + apiPaths.peerjs);
    expect(info.body).toMatchObject({ name: 'PeerJS Server' });
    const id = await fetch(`${s.url}${apiPaths.peerjs}/peerjs/id`);
    expect(id.status).toBe(200);
    expect((await id.text()).length).toBeGreaterThan(8);
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${apiPaths.peerjs}/peerjs?key=peerjs&id=peer-one&token=t1`);
    const first = await new Promise<unknown>((resolve, reject) => {
      ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString('utf8'))));
      ws.once('error', reject);
    });
    expect(first).toEqual({ type: 'OPEN' });
    ws.close();
  });

  it('every response carries COOP/COEP/CORP: the web app, the API, model files', async () => {
    const s = await start();
    for (const p of ['/', '/app.js', apiPaths.health, apiPaths.swarm, '/models/stories260K/tok512.bin', '/api/nope']) {
      const res = await fetch(s.url + p);
      expect(res.headers.get('cross-origin-opener-policy'), p).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy'), p).toBe('require-corp');
      expect(res.headers.get('cross-origin-resource-policy'), p).toBe('same-origin');
    }
    expect(await (await fetch(s.url + '/')).text()).toContain('<title>Bouquet</title>');
    const nope = await json(s.url + '/api/nope');
    expect(nope.status).toBe(404);
    expect(nope.body).toMatchObject({ error: { code: 'not-found' } });
  });

  it('model files answer range requests with 206 and exactly the bytes asked for', async () => {
    const s = await start();
    const file = await readFile(path.join(stories260K, 'stories260K.bin'));
    const res = await fetch(s.url + '/models/stories260K/stories260K.bin', { headers: { Range: 'bytes=1000-4999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 1000-4999/${file.byteLength}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(file.subarray(1000, 5000))).toBe(true);
    const whole = await fetch(s.url + '/models/stories260K/stories260K.bin');
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect((await fetch(s.url + '/models/stories260K/../stories260K-hf/config.json')).status).toBe(404);
    expect((await fetch(s.url + '/models/stories260K/missing.bin')).status).toBe(404);
  });

  it('a dashboard socket gets a snapshot, then events', async () => {
    const s = await start();
    const ws = new WebSocket(s.url.replace('http', 'ws') + apiPaths.dashboardSocket);
    const got: DashboardMessage[] = [];
    ws.on('message', (d: Buffer) => {
      const p = parseDashboardMessage(JSON.parse(d.toString('utf8')));
      if (!p.ok) throw p.error;
      got.push(p.value);
    });
    await until(() => got.length === 1, 3000, 'snapshot');
    expect(got[0]?.type).toBe('snapshot');
    await join(s, { peerId: 'v', memoryBytes: budget(5, 5) });
    await servingAll(s);
    await until(() => got.some((m) => m.type === 'event' && m.event.type === 'placement'), 3000, 'placement event');
    const types = got.flatMap((m) => (m.type === 'event' ? [m.event.type] : []));
    expect(types).toContain('volunteer-joined');
    expect(types).toContain('volunteer-updated');
    ws.close();
  });
});
