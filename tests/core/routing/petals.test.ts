// PETALS routing: its Dijkstra path on a hand example, and its client's retry backoff and bans.
import { describe, expect, it } from 'vitest';
import { petalsBanMs, petalsRetryDelayMs, petalsRouting, type RoutingState } from '../../../core/routing/index.ts';
import { simulate, seededRandom } from '../../../sim/index.ts';
import { placement, server, swarm } from './helpers.ts';

const idle: RoutingState = { nowMs: 0, servers: new Map() };

describe('petals routing', () => {
  // A [0,2) and B [2,4) are fast (10 ms/block), C [0,4) is slow (100 ms/block); client RTT 20 ms.
  // A→C has a 1 s ping (an unknown ping would count PETALS' default 0.15 s).
  // PETALS' costs: A→B = (10 + 18) + 2·10 + (ss/2 + 18) + 2·10 + 10; C = (10 + 18) + 4·100 + 10 = 438.
  const servers = [server('A', 10), server('B', 10), server('C', 100)];
  const place = placement([
    ['A', 0, 2, 100],
    ['B', 2, 4, 100],
    ['C', 0, 4, 100],
  ]);
  const route = (ssMs: number, state = idle) =>
    petalsRouting().route(
      { swarm: swarm(4, servers, { serverServer: { A: { B: ssMs, C: 1000 } } }), placement: place, state },
      { clientId: 'c', inputTokens: 1, outputTokens: 8 },
    );

  it('takes the Dijkstra path A → B when the server-to-server ping is short', () => {
    const d = route(40); // A→B costs 28 + 20 + 38 + 20 + 10 = 116 < 438
    expect(d.kind).toBe('route');
    if (d.kind !== 'route') return;
    expect(d.chain.hops).toEqual([
      { serverId: 'A', span: { start: 0, end: 2 } },
      { serverId: 'B', span: { start: 2, end: 4 } },
    ]);
    expect(d.expectedWaitMs).toBe(0);
  });

  it('uses the server-to-server ping, not the client RTT, between spans', () => {
    const d = route(1000); // A→B costs 28 + 20 + 518 + 20 + 10 = 596 > 438: the slow single server wins
    expect(d.kind === 'route' && d.chain.hops.map((h) => h.serverId)).toEqual(['C']);
  });

  it('adds 10 s to a server whose free cache looks too small', () => {
    const state: RoutingState = { nowMs: 0, servers: new Map([['A', { online: true, freeSlots: 1, sessions: [] }]]) };
    const d = route(40, state); // A needs 2 slots, has 1: +10 s makes C the shortest
    expect(d.kind === 'route' && d.chain.hops.map((h) => h.serverId)).toEqual(['C']);
  });

  it('skips banned peers and offline servers', () => {
    const banned: RoutingState = { nowMs: 5, servers: new Map(), bannedUntilMs: new Map([['A', 10]]) };
    const b = route(40, banned);
    expect(b.kind === 'route' && b.chain.hops.map((h) => h.serverId)).toEqual(['C']);
    const expired: RoutingState = { nowMs: 10, servers: new Map(), bannedUntilMs: new Map([['A', 10]]) };
    const d = route(40, expired);
    expect(d.kind === 'route' && d.chain.hops.map((h) => h.serverId)).toEqual(['A', 'B']);
    const offline: RoutingState = { nowMs: 0, servers: new Map([['C', { online: false, freeSlots: 100, sessions: [] }], ['A', { online: false, freeSlots: 100, sessions: [] }]]) };
    expect(route(40, offline).kind).toBe('no-route');
  });

  it('keeps banned peers for blocks no unbanned peer covers, as its sequence manager does', () => {
    // Every server for blocks 0–1 (A and C) is banned: PETALS keeps them rather than finding no route.
    const allBanned: RoutingState = { nowMs: 5, servers: new Map(), bannedUntilMs: new Map([['A', 10], ['C', 10]]) };
    const d = route(40, allBanned);
    expect(d.kind === 'route' && d.chain.hops.map((h) => h.serverId)).toEqual(['A', 'B']);
    // Only C banned: A still covers blocks 0–1, B covers 2–3, so C is dropped.
    const oneBanned: RoutingState = { nowMs: 5, servers: new Map(), bannedUntilMs: new Map([['C', 10]]) };
    const e = route(2000, oneBanned); // A→B is slow now (ping 2 s), yet C stays excluded
    expect(e.kind === 'route' && e.chain.hops.map((h) => h.serverId)).toEqual(['A', 'B']);
  });

  it('documents the backoff 0, 1, 2, 4, … s capped at 60 s and bans of 15 s · 2^k', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(petalsRetryDelayMs)).toEqual([0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect([1, 2, 3].map(petalsBanMs)).toEqual([15000, 30000, 60000]);
  });

  it('in the simulator, a refused request retries with that backoff until the ban on the full peer ends', () => {
    // One server with cache for one session; each request takes exactly 10 s (one prefill pass).
    const s = server('only', 0, 10_000);
    const sw = swarm(1, [s], { defaultRttMs: 0 });
    const result = simulate({
      swarm: sw,
      placement: placement([['only', 0, 1, 1]]),
      routing: petalsRouting(),
      requests: [
        { id: 0, clientId: 'c', arrivalMs: 0, inputTokens: 1, outputTokens: 1 },
        { id: 1, clientId: 'c', arrivalMs: 0, inputTokens: 1, outputTokens: 1 },
      ],
      random: seededRandom(1),
    });
    // Request 1 is refused at t = 0 (ban 15 s), then finds no route at t = 0, 1, 3, 7 s (backoff 0, 1, 2, 4, 8 s)
    // and is admitted at t = 15 s when the ban ends: response 15 + 10 = 25 s; request 0 takes 10 s.
    expect(result.metrics.responseMs.mean).toBe((10_000 + 25_000) / 2);
    expect(result.metrics.retriesMean).toBe(5 / 2);
    expect(result.metrics.waitingMs.mean).toBe(15_000 / 2);
  });
});
