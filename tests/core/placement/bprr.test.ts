// BPRR's CG-BP: Theorem 2's bound, Lemma 3 (shortest paths are optimal when memory does not bind),
// Corollary 1's feasibility condition, and the choice of R.
import { describe, expect, it } from 'vitest';
import { chainCostMs, enumerateChains, shortestChainWithCost } from '../../../core/chains/index.ts';
import { clientWeights, decodeLinkCostMs } from '../../../core/perf/index.ts';
import {
  bprr,
  bprrBlockCount,
  bprrMaxSessions,
  bprrSessions,
  cgBpPlacement,
  InfeasiblePlacementError,
  predictPlacement,
} from '../../../core/placement/index.ts';
import type { Chain, SwarmSnapshot } from '../../../core/swarm/index.ts';
import { bloomClusteredTestbed, randomInstance } from './fixtures.ts';

/** Average over clients (by weight) of the decode time per token Σ_j (t_cj + τ_j k_j) on each client's shortest chain. */
function decodePerTokenMs(snap: SwarmSnapshot, assignments: Parameters<typeof predictPlacement>[1]): number {
  let sum = 0;
  for (const [clientId, w] of clientWeights(snap)) {
    const found = shortestChainWithCost(assignments, snap.model.numBlocks, decodeLinkCostMs(snap, clientId));
    if (found === null) throw new Error('no chain');
    sum += w * found.costMs;
  }
  return sum;
}

function corollary1Blocks(snap: SwarmSnapshot, R: number): number {
  return snap.servers.reduce((a, s) => a + bprrBlockCount(s.memoryBytes, snap.model.blockBytes, snap.model.cacheBytesPerBlock, R, snap.model.numBlocks), 0);
}

describe('Theorem 2', () => {
  it('the average decode time per token under CG-BPRR is at most the bound on 300 seeded random instances', () => {
    let checked = 0;
    for (let seed = 1; checked < 300 && seed < 2000; seed++) {
      const R = 1 + (seed % 4);
      const snap = randomInstance(seed, { servers: 2 + (seed % 12), clients: 1 + (seed % 3), blocks: 4 + (seed % 20), memoryBlocks: [2, 14], cacheRatio: 0.05 + 0.1 * (seed % 3) });
      if (corollary1Blocks(snap, R) < snap.model.numBlocks) continue;
      const placed = cgBpPlacement(snap, R);
      const actual = decodePerTokenMs(snap, placed.assignments);
      expect(actual).toBeLessThanOrEqual(placed.perTokenBoundMs + 1e-9);
      checked++;
    }
    expect(checked).toBe(300);
  });
  it('is reported by the policy as perTokenBoundMs, with R as reservedSessions', async () => {
    const r = await bprr({ concurrentRequests: 5 })(bloomClusteredTestbed());
    expect(r.reservedSessions).toBe(5);
    expect(r.prediction.perTokenBoundMs).toBeGreaterThan(0);
    const snap = bloomClusteredTestbed();
    expect(decodePerTokenMs(snap, r.assignments)).toBeLessThanOrEqual(r.prediction.perTokenBoundMs ?? 0);
  });
});

describe('Lemma 3: with CG-BP memory does not bind, so shortest-path routing is optimal', () => {
  it('on tiny instances the best memory-feasible routing of R requests (brute force) is R × the shortest chain', () => {
    let checked = 0;
    for (let seed = 1; checked < 60 && seed < 1000; seed++) {
      const R = 1 + (seed % 3);
      const snap = randomInstance(seed, { servers: 3 + (seed % 3), blocks: 3 + (seed % 3), memoryBlocks: [1.5, 5], cacheRatio: 0.2 });
      if (corollary1Blocks(snap, R) < snap.model.numBlocks) continue;
      const { assignments } = cgBpPlacement(snap, R);
      const cost = decodeLinkCostMs(snap, 'c0');
      const chains = enumerateChains(assignments, snap.model.numBlocks);
      const slots = new Map(assignments.map((a) => [a.serverId, a.cacheSlots]));
      let best = Infinity;
      const pick = (r: number, start: number, used: Map<string, number>, acc: number): void => {
        if (r === R) {
          best = Math.min(best, acc);
          return;
        }
        // Requests are identical: choose a multiset of chains (indices non-decreasing).
        for (let i = start; i < chains.length; i++) {
          const ch = chains[i] as Chain;
          const next = new Map(used);
          let ok = true;
          for (const h of ch.hops) {
            const u = (next.get(h.serverId) ?? 0) + h.span.end - h.span.start;
            next.set(h.serverId, u);
            if (u > (slots.get(h.serverId) ?? 0)) ok = false;
          }
          if (ok) pick(r + 1, i, next, acc + chainCostMs(ch, cost));
        }
      };
      pick(0, 0, new Map(), 0);
      const shortest = shortestChainWithCost(assignments, snap.model.numBlocks, cost);
      expect(shortest).not.toBeNull();
      expect(best).toBeCloseTo(R * (shortest?.costMs ?? NaN), 9);
      checked++;
    }
    expect(checked).toBe(60);
  });
});

describe('Corollary 1: feasible iff Σ_j min(⌊M_j/(s_m + s_c R)⌋, L) ≥ L', () => {
  it('CG-BP reaches R sessions on every block exactly when the condition holds (400 random instances)', () => {
    let feasible = 0;
    let infeasible = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const R = 1 + (seed % 6);
      const snap = randomInstance(seed, { servers: 1 + (seed % 8), blocks: 3 + (seed % 15), memoryBlocks: [1, 8], cacheRatio: 0.15 });
      const ok = corollary1Blocks(snap, R) >= snap.model.numBlocks;
      if (ok) {
        const placed = cgBpPlacement(snap, R);
        expect(placed.assignments.length).toBe(snap.servers.length);
        feasible++;
      } else {
        expect(() => cgBpPlacement(snap, R)).toThrow(InfeasiblePlacementError);
        infeasible++;
      }
    }
    expect(feasible).toBeGreaterThan(50);
    expect(infeasible).toBeGreaterThan(50);
  });
  it('the error has code "infeasible" and names L, R and how many blocks fit', async () => {
    const snap = bloomClusteredTestbed();
    snap.servers = snap.servers.filter((s) => s.id.startsWith('mig'));
    const err = (await bprr({ concurrentRequests: 5 })(snap).catch((e: unknown) => e)) as InfeasiblePlacementError;
    expect(err).toBeInstanceOf(InfeasiblePlacementError);
    expect(err.code).toBe('infeasible');
    expect(err.reason).toMatch(/^servers can hold only \d+ of L = 70 blocks with R = 5 sessions reserved$/);
  });
});

describe('the choice of R', () => {
  it('options override the workload, which overrides Algorithm 2', () => {
    const snap = bloomClusteredTestbed();
    snap.workload.concurrentRequests = 4;
    expect(bprrSessions(snap, { concurrentRequests: 2 })).toBe(2);
    expect(bprrSessions(snap)).toBe(4);
  });
  it('Algorithm 2: R = min(round(λT̄ + √(λT̄)), R_max) with T̄ from CG-BPRR with R = 1', () => {
    const snap = bloomClusteredTestbed(64, 0.5);
    const T = predictPlacement(snap, cgBpPlacement(snap, 1).assignments).breakdown.totalMs / 1000;
    const x = 0.5 * T;
    expect(bprrSessions(snap)).toBe(Math.min(Math.round(x + Math.sqrt(x)), bprrMaxSessions(snap)));
    // R_max by hand: ⌊(2·79 + 7·8.2 GB − 1.32 GB · (70 + 9)) / (s_c · 79)⌋
    const sc = snap.model.cacheBytesPerBlock;
    expect(bprrMaxSessions(snap)).toBe(Math.floor((2 * 79e9 + 7 * 8.2e9 - 1.32e9 * 79) / (sc * 79)));
    snap.workload.arrivalRatePerS = 1000;
    expect(bprrSessions(snap)).toBe(bprrMaxSessions(snap));
  });
});
