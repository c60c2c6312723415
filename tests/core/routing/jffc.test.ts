// JFFC: the fastest free chain, else the queue; over a seeded run it never leaves a free chain idle while jobs queue.
import { describe, expect, it } from 'vitest';
import { chainCostMs } from '../../../core/chains/index.ts';
import { requestLinkCostMs } from '../../../core/perf/index.ts';
import type { ChainCapacity } from '../../../core/placement/index.ts';
import { dispatchChains, jffcRouting } from '../../../core/routing/index.ts';
import { generateRequests, seededRandom, simulate, streamRandom } from '../../../sim/index.ts';
import { placement, server, swarm } from './helpers.ts';

// Six servers on 6 blocks with different speeds and RTTs; GCA builds the chains.
const servers = [server('a', 5, 50), server('b', 8, 50), server('c', 12, 50), server('d', 20, 50), server('e', 9, 50), server('f', 15, 50)];
const sw = swarm(6, servers, { rtt: { a: 10, b: 30, c: 15, d: 5, e: 40, f: 25 }, overheadMs: 5 });
sw.workload = { arrivalRatePerS: 4, meanInputTokens: 16, meanOutputTokens: 12 };
const place = placement([
  ['a', 0, 3, 9],
  ['b', 3, 6, 6],
  ['c', 0, 6, 12],
  ['d', 0, 4, 8],
  ['e', 2, 6, 8],
  ['f', 0, 6, 6],
]);

describe('jffc routing', () => {
  const chains: ChainCapacity[] = dispatchChains(sw, place);
  const cost = requestLinkCostMs(sw, 'c', 16, 12);
  const speed = chains.map((c) => chainCostMs(c.chain, cost));

  it('computes chains with GCA when the placement has none', () => {
    expect(chains.length).toBeGreaterThan(1);
    for (const c of chains) expect(c.capacity).toBeGreaterThanOrEqual(1);
  });

  it('picks the fastest chain with a free slot, and queues when every chain is full', () => {
    const random = seededRandom(7);
    const policy = jffcRouting();
    for (let trial = 0; trial < 200; trial++) {
      const sessions = chains.map((c) => (random.next() < 0.6 ? c.capacity : Math.floor(random.next() * c.capacity)));
      const d = policy.route({ swarm: sw, placement: place, state: { nowMs: 0, servers: new Map(), chainSessions: sessions } }, { clientId: 'c', inputTokens: 16, outputTokens: 12 });
      const free = chains.map((c, i) => (sessions[i] ?? 0) < c.capacity);
      if (!free.some(Boolean)) {
        expect(d.kind).toBe('queue');
        continue;
      }
      expect(d.kind).toBe('route');
      if (d.kind !== 'route' || d.chainIndex === undefined) continue;
      expect(free[d.chainIndex]).toBe(true);
      const best = Math.min(...speed.filter((_, i) => free[i]));
      expect(speed[d.chainIndex]).toBe(best);
    }
  });

  it('never leaves a free chain idle while jobs queue (seeded simulation)', () => {
    const requests = generateRequests(
      { process: 'bursty', ratePerS: 6, cv: 3, inputTokens: 16, outputTokens: 12, count: 600 },
      sw.clients,
      streamRandom(3, 'arrivals'),
    );
    let queuedEvents = 0;
    const result = simulate({
      swarm: sw,
      placement: place,
      routing: jffcRouting(),
      requests,
      random: seededRandom(3),
      observe: (_event, view) => {
        if (view.queued === 0) return;
        queuedEvents++;
        chains.forEach((c, i) => expect(view.chainSessions[i] ?? 0).toBe(c.capacity));
      },
    });
    expect(queuedEvents).toBeGreaterThan(50); // the run did queue, so the property was exercised
    expect(result.metrics.finished).toBe(600);
    expect(result.metrics.waitingMs.mean).toBeGreaterThan(0);
  });
});

describe('dispatchChains over spans in force', () => {
  it("counts slots in the placement's sessionsPerSlot: a one-hop chain whose volunteer fits one declared-length session but not a whole slot", () => {
    // 4 blocks on `a` with 2 whole slots free: no whole-slot session (4 slots) fits, but at 2.5 sessions
    // per slot (a declaration of 2/5 of a slot) 2 · 2.5 = 5 ≥ 4 session-slots do: capacity 1.
    const sw4 = swarm(4, [server('a', 2, 0), server('b', 6, 0), server('c', 6, 0)], { rtt: { a: 10, b: 10, c: 10 }, overheadMs: 0 });
    sw4.workload = { arrivalRatePerS: 1, meanInputTokens: 16, meanOutputTokens: 12 };
    const rows: [string, number, number, number][] = [
      ['a', 0, 4, 2],
      ['b', 0, 2, 8],
      ['c', 2, 4, 8],
    ];
    const oneHop = (p: ReturnType<typeof placement>): ChainCapacity | undefined => dispatchChains(sw4, p).find((c) => c.chain.hops.length === 1);
    expect(oneHop(placement(rows))).toBeUndefined();
    expect(oneHop(placement(rows, { sessionsPerSlot: 2.5 }))?.capacity).toBe(1);
  });
});
