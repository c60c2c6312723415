// Bouquet's router: the fastest chain for this request that has the cache it declared, else the central queue.
import { describe, expect, it } from 'vitest';
import { bouquetRouting, type RoutingDecision, type ServerLoad } from '../../../core/routing/index.ts';
import { placement, server, swarm } from './helpers.ts';

// A fast and a slow server, each holding all 4 blocks with 8 single-block slots (2 whole sessions).
const sw = swarm(4, [server('fast', 1), server('slow', 10)]);
const place = placement([
  ['fast', 0, 4, 8],
  ['slow', 0, 4, 8],
]);

function route(loads: Record<string, Partial<ServerLoad>>, outputTokens = 8, snapshot = sw): RoutingDecision {
  const servers = new Map(Object.entries(loads).map(([id, l]) => [id, { online: true, freeSlots: 8, sessions: [], ...l }]));
  return bouquetRouting().route({ swarm: snapshot, placement: place, state: { nowMs: 0, servers } }, { clientId: 'c', inputTokens: 4, outputTokens });
}

/** `n` running sessions, each holding one slot per block. */
const running = (n: number): ServerLoad['sessions'] => Array.from({ length: n }, () => ({ slots: 1, expectedEndMs: 1000 }));

const firstHop = (d: RoutingDecision): string | undefined => (d.kind === 'route' ? d.chain.hops[0]?.serverId : d.kind);

describe('bouquetRouting', () => {
  it('takes the fastest chain whose every hop has the cache this session needs', () => {
    expect(firstHop(route({}))).toBe('fast');
    // Free slots are counted in this session's reservation: 4 blocks need 4; 3.5 is not enough.
    expect(firstHop(route({ fast: { freeSlots: 3.5 } }))).toBe('slow');
    expect(firstHop(route({ fast: { freeSlots: 4 } }))).toBe('fast');
  });

  it('queues when no chain has the cache, and has no route when every chain is offline', () => {
    expect(firstHop(route({ fast: { freeSlots: 0, sessions: running(8) }, slow: { freeSlots: 2, sessions: running(6) } }))).toBe('queue');
    expect(firstHop(route({ fast: { online: false }, slow: { online: false } }))).toBe('no-route');
  });

  it('has no route, rather than a place at the queue head for ever, when no chain would have the cache even idle', () => {
    // Loads in this session's units: 2 per volunteer with nobody running (planned for shorter declarations), 4 blocks need 4.
    expect(firstHop(route({ fast: { freeSlots: 2 }, slow: { freeSlots: 2 } }))).toBe('no-route');
    // Held by running sessions, the same 2 free slots are a wait: 8 once they end.
    expect(firstHop(route({ fast: { freeSlots: 2, sessions: running(6) }, slow: { freeSlots: 2 } }))).toBe('queue');
    // An offline volunteer's cache does not count.
    expect(firstHop(route({ fast: { freeSlots: 2, sessions: running(6), online: false }, slow: { freeSlots: 2 } }))).toBe('no-route');
    // The same under contention scoring.
    const contended = { ...sw, contention: { baseTaus: 0, perSessionTaus: 1 } };
    expect(firstHop(route({ fast: { freeSlots: 2 }, slow: { freeSlots: 2 } }, 8, contended))).toBe('no-route');
    expect(firstHop(route({ fast: { freeSlots: 0, sessions: running(8) }, slow: { freeSlots: 2 } }, 8, contended))).toBe('queue');
  });

  it("predicts the route for this request's own lengths", () => {
    const short = route({}, 2);
    const long = route({}, 20);
    expect(short.kind === 'route' && long.kind === 'route' && short.predicted.totalMs < long.predicted.totalMs).toBe(true);
  });

  it('told the contention, packs onto the fast volunteer only while its slowdown still beats the idle slow one', () => {
    // Serialised steps (our runtime): joining n sessions costs factor n + 1. Fast τ = 1, slow τ = 10.
    const contended = { ...sw, contention: { baseTaus: 0, perSessionTaus: 1 } };
    expect(firstHop(route({ fast: { sessions: running(5) } }, 8, contended))).toBe('fast');
    expect(firstHop(route({ fast: { sessions: running(12) } }, 8, contended))).toBe('slow');
    // Not told: concurrency costs memory only, and the fast chain wins at any load.
    expect(firstHop(route({ fast: { sessions: running(12) } }))).toBe('fast');
    // Cache still rules: a fast volunteer without the cache is not taken, however idle.
    expect(firstHop(route({ fast: { freeSlots: 0 }, slow: { sessions: running(30) } }, 8, contended))).toBe('slow');
    expect(firstHop(route({ fast: { freeSlots: 0, sessions: running(8) }, slow: { freeSlots: 0, sessions: running(8) } }, 8, contended))).toBe('queue');
  });

  it("with ownChains, takes this client's own faster chain over spans the plan's chains do not use, while it has the cache", () => {
    // The plan listed one chain through a volunteer far from this client; two near ones hold the model between them.
    const far = swarm(4, [server('far', 1), server('nearA', 1), server('nearB', 1)], { rtt: { far: 100, nearA: 1, nearB: 1 } });
    const listed = placement(
      [['far', 0, 4, 8], ['nearA', 0, 2, 8], ['nearB', 2, 4, 8]],
      { chains: [{ chain: { hops: [{ serverId: 'far', span: { start: 0, end: 4 } }] }, capacity: 2, serviceMs: 1 }] },
    );
    const decide = (ownChains: boolean, loads: Record<string, Partial<ServerLoad>> = {}): RoutingDecision => {
      const servers = new Map(Object.entries(loads).map(([id, l]) => [id, { online: true, freeSlots: 8, sessions: [], ...l }]));
      return bouquetRouting({ ownChains }).route({ swarm: far, placement: listed, state: { nowMs: 0, servers } }, { clientId: 'c', inputTokens: 4, outputTokens: 8 });
    };
    const hops = (d: RoutingDecision): string[] => (d.kind === 'route' ? d.chain.hops.map((h) => h.serverId) : [d.kind]);
    expect(hops(decide(false))).toEqual(['far']);
    const own = decide(true);
    expect(hops(own)).toEqual(['nearA', 'nearB']);
    expect(own.kind === 'route' && own.chainIndex).toBe(undefined);
    // Without the cache on a near hop (or with it offline) the listed chain is taken.
    expect(hops(decide(true, { nearB: { freeSlots: 1 } }))).toEqual(['far']);
    expect(hops(decide(true, { nearA: { online: false } }))).toEqual(['far']);
    // The listed chain can never hold this session (2 of 4 even idle): its own chain's busy cache is a wait, not no route.
    const farSmall = { far: { freeSlots: 2 }, nearA: { freeSlots: 0, sessions: [{ slots: 8, expectedEndMs: 1000 }] } };
    expect(hops(decide(true, farSmall))).toEqual(['queue']);
    expect(hops(decide(false, farSmall))).toEqual(['no-route']);
  });
});
