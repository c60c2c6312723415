// Routes from the coordinator over loopback: chains, releases, queues, leases by declared length, failover sub-routes.
import { afterEach, describe, expect, it } from 'vitest';
import { apiPaths, parseRouteResponse, routeReleasePath, routeRenewPath, routeTicketPath, type RouteGranted } from '../../core/api/index.ts';
import type { BouquetServer, ServerOptions } from '../../server/index.ts';
import { budget, json, TestServers, TestVolunteer } from './helpers.ts';
import { askRoute, granted, postRoute, servingAll, swarmState } from './swarm-api.ts';

const L = 5;

// Scripted volunteers with hand-picked peer ids; most send no heartbeats (a loaded machine can outlast the default timeout).
const swarmOf = new TestServers({ coordinator: { keyBoundPeerIds: false, heartbeatTimeoutMs: 600_000 } });
afterEach(() => swarmOf.cleanUp());

function start(options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  return swarmOf.start(options);
}

function join(s: BouquetServer, o: Parameters<typeof TestVolunteer.join>[1]): Promise<TestVolunteer> {
  return swarmOf.join(s, o);
}

describe('routes', () => {
  it('a client gets a route whose chain covers [0, L) in order, within the hops\' spans', async () => {
    const s = await start({ policy: 'bprr' }); // BPRR pinned: the route names WS-RR
    await join(s, { peerId: 'p', memoryBytes: budget(3, 3) });
    await servingAll(s);
    await join(s, { peerId: 'q', memoryBytes: budget(3, 3) });
    await servingAll(s);
    const r = await postRoute(s, { clientId: 'cl', promptTokens: 10, maxNewTokens: 20, rttMs: { p: 5, q: 7 } });
    expect(r.status).toBe(200);
    const g = granted(r.answer);
    expect(g.chain[0]?.span.start).toBe(0);
    expect(g.chain[g.chain.length - 1]?.span.end).toBe(L);
    for (let i = 1; i < g.chain.length; i++) expect(g.chain[i]?.span.start).toBe(g.chain[i - 1]?.span.end);
    const st = s.coordinator.state();
    for (const h of g.chain) {
      const v = st.volunteers.find((x) => x.peerId === h.peerId);
      expect(v?.span !== null && v !== undefined && v.span.start <= h.span.start && h.span.end <= v.span.end).toBe(true);
    }
    expect(g.predicted.totalMs).toBeGreaterThan(0);
    expect(g.policy).toBe('ws-rr'); // the combo 'bprr' routes by WS-RR
    expect(g.expiresAtMs).toBeGreaterThan(Date.now());
  });

  it('releasing a route frees its slots, records the measured time, and a second release is refused', async () => {
    const s = await start({ policy: 'bprr' }); // BPRR pinned: whole-slot bookings (free slots counted in whole slots)
    await join(s, { peerId: 'p', memoryBytes: budget(5, 5) });
    await servingAll(s);
    const g = granted(await askRoute(s, { clientId: 'cl', promptTokens: 10, maxNewTokens: 20 }));
    expect((await swarmState(s)).volunteers[0]?.leasedSlots).toBe(5);
    const rel = await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret, measured: { totalMs: 321, tokens: 20 } } });
    expect(rel.status).toBe(200);
    expect(rel.body).toEqual({ kind: 'released', leaseId: g.leaseId });
    const st = await swarmState(s);
    expect(st.volunteers[0]?.leasedSlots).toBe(0);
    expect(st.activeLeases).toBe(0);
    expect(st.recentRoutes.find((r) => r.leaseTag === g.leaseTag)).toMatchObject({ outcome: 'released', measured: { totalMs: 321, tokens: 20 } });
    const again = await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret } });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ kind: 'error', error: { code: 'unknown-lease' } });
  });

  it('jffc queues when every chain is full and hands the freed slot to the queue head', async () => {
    // BPRR's combo: whole-slot bookings (bouquet's declared-length bookings and c in sessions would admit more than one).
    const s = await start({ policy: 'bprr', routing: 'jffc' });
    // Five blocks and five single-block caches: one chain of capacity one.
    await join(s, { peerId: 'only', memoryBytes: budget(5, 5) });
    await servingAll(s);
    const first = granted(await askRoute(s, { clientId: 'c1', promptTokens: 4, maxNewTokens: 8 }));
    const second = await postRoute(s, { clientId: 'c2', promptTokens: 4, maxNewTokens: 8 });
    const third = await postRoute(s, { clientId: 'c3', promptTokens: 4, maxNewTokens: 8 });
    expect(second.status).toBe(202);
    expect(second.answer).toMatchObject({ kind: 'queued', position: 1, queueLength: 1 });
    expect(third.answer).toMatchObject({ kind: 'queued', position: 2, queueLength: 2 });
    if (second.answer.kind !== 'queued' || third.answer.kind !== 'queued') throw new Error('not queued');

    // Long-poll the head's ticket, then free the slot.
    const head = json(`${s.url}${routeTicketPath(second.answer.ticketId)}?waitMs=5000`);
    await new Promise((r) => setTimeout(r, 50));
    await json(s.url + routeReleasePath(first.leaseId), { body: { leaseSecret: first.leaseSecret } });
    const headAnswer = parseRouteResponse((await head).body);
    expect(headAnswer.ok && headAnswer.value.kind).toBe('route');
    if (headAnswer.ok && headAnswer.value.kind === 'route') expect(headAnswer.value.chain).toEqual(first.chain);

    const tail = await json(s.url + routeTicketPath(third.answer.ticketId));
    expect(tail.status).toBe(202);
    expect(tail.body).toMatchObject({ kind: 'queued', position: 1, queueLength: 1 });
    const st = await swarmState(s);
    expect(st.queueLength).toBe(1);
    expect(st.recentRoutes.find((r) => r.clientId === 'c2')?.queuedMs).toBeGreaterThan(0);
  });

  it('ws-rr books slots by lease and waits for them, too', async () => {
    const s = await start({ policy: 'bprr' }); // WS-RR with whole-slot bookings (bouquet's combo would book declared lengths)
    await join(s, { peerId: 'only', memoryBytes: budget(5, 5) });
    await servingAll(s);
    const first = granted(await askRoute(s, { clientId: 'c1', promptTokens: 4, maxNewTokens: 8 }));
    expect(first.policy).toBe('ws-rr');
    const second = await postRoute(s, { clientId: 'c2', promptTokens: 4, maxNewTokens: 8 });
    expect(second.answer.kind).toBe('queued');
    await json(s.url + routeReleasePath(first.leaseId), { body: { leaseSecret: first.leaseSecret } });
    if (second.answer.kind !== 'queued') throw new Error('not queued');
    const after = await json(s.url + routeTicketPath(second.answer.ticketId));
    expect(after.status).toBe(200);
  });

  it('books leases by declared length when the coordinator reserves so: 32 short sessions fit where whole slots fit one', async () => {
    // One volunteer, five blocks, five 512-token slots: 32 token blocks a slot. A session declaring
    // 4 + 8 tokens holds one token block per block, 1/32 of a slot; one declaring 512 a whole slot.
    // A slow volunteer (1 s a block), so that WS-RR's expected ends lie well after the test.
    const declared = await start({ policy: 'bprr', coordinator: { cacheReservation: 'declared' } }); // WS-RR, its combo's bookings overridden
    await join(declared, { peerId: 'only', memoryBytes: budget(5, 5), decodeMsPerBlock: 1000 });
    await servingAll(declared);
    const leases: RouteGranted[] = [];
    leases.push(granted(await askRoute(declared, { clientId: 'c0', promptTokens: 4, maxNewTokens: 8 })));
    expect((await swarmState(declared)).volunteers[0]?.leasedSlots).toBe(5 / 32); // the dashboard sees the fraction
    for (let i = 1; i < 32; i++) leases.push(granted(await askRoute(declared, { clientId: `c${i}`, promptTokens: 4, maxNewTokens: 8 })));
    expect((await swarmState(declared)).volunteers[0]?.leasedSlots).toBeCloseTo(5, 9);
    const next = await postRoute(declared, { clientId: 'late', promptTokens: 4, maxNewTokens: 8 });
    expect(next.answer.kind).toBe('queued');
    // Freeing one short session's token blocks lets the queue head in, but not a full-length session after it.
    const first = leases[0];
    if (first === undefined) throw new Error('no lease');
    await json(declared.url + routeReleasePath(first.leaseId), { body: { leaseSecret: first.leaseSecret } });
    if (next.answer.kind !== 'queued') throw new Error('not queued');
    expect((await json(declared.url + routeTicketPath(next.answer.ticketId))).status).toBe(200);
    for (const l of leases.slice(1, 4)) await json(declared.url + routeReleasePath(l.leaseId), { body: { leaseSecret: l.leaseSecret } });
    expect((await askRoute(declared, { clientId: 'long', promptTokens: 4, maxNewTokens: 508 })).kind).toBe('queued');

    // BPRR's combo books whole slots: the second short session already waits (bouquet's, the default, books declared lengths).
    const slot = await start({ policy: 'bprr' });
    await join(slot, { peerId: 'only', memoryBytes: budget(5, 5), decodeMsPerBlock: 1000 });
    await servingAll(slot);
    granted(await askRoute(slot, { clientId: 'c1', promptTokens: 4, maxNewTokens: 8 }));
    expect((await swarmState(slot)).volunteers[0]?.leasedSlots).toBe(5);
    expect((await askRoute(slot, { clientId: 'c2', promptTokens: 4, maxNewTokens: 8 })).kind).toBe('queued');
  });

  it('petals grants its route even when the booked slots are full (the volunteer refuses, the client retries)', async () => {
    const s = await start({ policy: 'bprr', routing: 'petals' }); // whole-slot bookings, as the free-slot counts below assume
    await join(s, { peerId: 'only', memoryBytes: budget(5, 5) });
    await servingAll(s);
    const first = granted(await askRoute(s, { clientId: 'c1', promptTokens: 4, maxNewTokens: 8 }));
    const second = granted(await askRoute(s, { clientId: 'c2', promptTokens: 4, maxNewTokens: 8 }));
    expect(first.policy).toBe('petals');
    expect(second.chain).toEqual(first.chain);
    expect((await swarmState(s)).volunteers[0]?.leasedSlots).toBe(10);
  });

  it('failover while a volunteer loads the missing blocks: the request waits in the queue and gets that volunteer once it is ready', async () => {
    const s = await start();
    // 'holder' alone serves blocks 3–4; 'a' and 'b' both serve 0–2, so one of them can move.
    const a = await join(s, { peerId: 'a', memoryBytes: budget(3, 3), loadedSpan: { start: 0, end: 3 }, autoReady: false });
    const holder = await join(s, { peerId: 'holder', memoryBytes: budget(3, 3), loadedSpan: { start: 2, end: 5 } });
    const b = await join(s, { peerId: 'b', memoryBytes: budget(3, 3), loadedSpan: { start: 0, end: 3 }, autoReady: false });
    for (const v of [a, b]) v.ready(await v.assignment());
    await servingAll(s);
    const moves = [a, b].map((v) => v.next((m) => m.type === 'assignment' && m.reason === 'cover-gap', 5000).then((m) => ({ v, m })));
    await holder.close();
    const moved = await Promise.any(moves);
    // The mover is still loading: the failover request for 3–4 is queued, not refused.
    const asked = await postRoute(s, { clientId: 'cl', promptTokens: 6, maxNewTokens: 6, span: { start: 3, end: 5 }, excludePeers: ['holder'] });
    expect(asked.status).toBe(202);
    if (asked.answer.kind !== 'queued') throw new Error(`expected queued, got ${JSON.stringify(asked.answer)}`);
    const polled = json(`${s.url}${routeTicketPath(asked.answer.ticketId)}?waitMs=5000`);
    if (moved.m.type === 'assignment') moved.v.ready(moved.m);
    const answer = parseRouteResponse((await polled).body);
    if (!answer.ok) throw answer.error;
    const g = granted(answer.value);
    expect(g.chain.map((h) => h.peerId)).toEqual([moved.v.peerId]);
    expect(g.chain[0]?.span).toEqual({ start: 3, end: 5 });
  });

  it('a request nothing can ever cover is refused once the placement has settled, not left waiting', async () => {
    const s = await start();
    const only = await join(s, { peerId: 'only', memoryBytes: budget(5, 5) });
    await servingAll(s);
    await only.close();
    const asked = await postRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 });
    let answer = asked.answer;
    if (answer.kind === 'queued') {
      const polled = parseRouteResponse((await json(`${s.url}${routeTicketPath(answer.ticketId)}?waitMs=5000`)).body);
      if (!polled.ok) throw polled.error;
      answer = polled.value;
    }
    expect(answer).toMatchObject({ kind: 'error', error: { code: 'no-route' } });
  });

  it('failover: a route for just blocks [a, b) that avoids the failed peer', async () => {
    // The default policy (bouquet): both volunteers get a span (a second holder to fail over to; q's is a spare span).
    const s = await start();
    await join(s, { peerId: 'p', memoryBytes: budget(5, 10) });
    await servingAll(s);
    await join(s, { peerId: 'q', memoryBytes: budget(5, 10) });
    await servingAll(s);
    const full = granted(await askRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 }));
    const failed = full.chain[0]?.peerId ?? '';
    const r = granted(await askRoute(s, { clientId: 'cl', promptTokens: 6, maxNewTokens: 6, span: { start: 2, end: 5 }, excludePeers: [failed] }));
    expect(r.chain[0]?.span.start).toBe(2);
    expect(r.chain[r.chain.length - 1]?.span.end).toBe(5);
    expect(r.chain.every((h) => h.peerId !== failed)).toBe(true);
    // With every holder excluded there is no route.
    const none = await postRoute(s, { clientId: 'cl', promptTokens: 6, maxNewTokens: 6, span: { start: 2, end: 5 }, excludePeers: ['p', 'q'] });
    expect(none.status).toBe(503);
    expect(none.answer).toMatchObject({ kind: 'error', error: { code: 'no-route' } });
  });

  it('no volunteers: no-route; malformed request: bad-request naming the field', async () => {
    const s = await start();
    const none = await postRoute(s, { clientId: 'cl', promptTokens: 4, maxNewTokens: 8 });
    expect(none.answer).toMatchObject({ kind: 'error', error: { code: 'no-route' } });
    const bad = await json(s.url + apiPaths.routes, { body: { clientId: 'cl', promptTokens: 0, maxNewTokens: 8 } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ kind: 'error', error: { code: 'bad-request', field: 'promptTokens' } });
    const tooLong = await json(s.url + apiPaths.routes, { body: { clientId: 'cl', promptTokens: 500, maxNewTokens: 100 } });
    expect(tooLong.body).toMatchObject({ error: { code: 'bad-request', field: 'maxNewTokens' } });
    const notJson = await json(s.url + apiPaths.routes, { rawBody: '{"clientId":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: { code: 'bad-request' } });
  });

  it('a lease that is not renewed expires; renewing keeps it', async () => {
    // The coordinator's own clock, moved by hand: on a loaded machine a wall-clock sleep between renewals may outlast the lease.
    let nowMs = Date.now();
    const s = await start({ coordinator: { leaseMs: 300, now: () => nowMs } });
    await join(s, { peerId: 'p', memoryBytes: budget(5, 10) });
    await servingAll(s);
    const kept = granted(await askRoute(s, { clientId: 'a', promptTokens: 4, maxNewTokens: 8 }));
    const lapsed = granted(await askRoute(s, { clientId: 'b', promptTokens: 4, maxNewTokens: 8 }));
    for (let i = 0; i < 4; i++) {
      nowMs += 150;
      s.coordinator.sweep();
      const renew = await json(s.url + routeRenewPath(kept.leaseId), { body: { leaseSecret: kept.leaseSecret } });
      expect(renew.body).toMatchObject({ kind: 'renewed', leaseId: kept.leaseId });
    }
    // 600 ms after its grant the lease nobody renewed is gone; the renewed one still holds (renewed 150 ms ago).
    const late = await json(s.url + routeReleasePath(lapsed.leaseId), { body: { leaseSecret: lapsed.leaseSecret } });
    expect(late.status).toBe(410);
    expect(late.body).toMatchObject({ error: { code: 'lease-expired' } });
    expect((await json(s.url + routeReleasePath(kept.leaseId), { body: { leaseSecret: kept.leaseSecret } })).status).toBe(200);
  });
});
