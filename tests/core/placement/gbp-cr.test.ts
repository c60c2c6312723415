// GBP-CR: the Theorem-4 JFFC bound, optimality for equal memories (brute force), the stopping rule,
// the search over c, and GCA chains in the result.
import { describe, expect, it } from 'vitest';
import { jobLinkCostMs, serverJobCosts } from '../../../core/perf/index.ts';
import { allocateCache } from '../../../core/chains/index.ts';
import { loadScenario } from '../../../tools/scenarios/index.ts';
import type { SwarmSnapshot } from '../../../core/swarm/index.ts';
import {
  chooseGbpCrReservation,
  gbpCr,
  gbpCrBlockCount,
  gbpCrMaxReservation,
  gbpCrPlacement,
  gbpCrTargetLoad,
  gbpCrTieTolerance,
  jffcResponseTimeBoundMs,
} from '../../../core/placement/index.ts';
import { mulberry32 } from '../../../core/random/index.ts';
import { bloomClusteredTestbed, randomInstance } from './fixtures.ts';

/** M/M/c mean response time (Erlang C), ms, for arrival rate λ (1/s) and service time T (ms). */
function mmcResponseMs(c: number, serviceMs: number, lambdaPerS: number): number {
  const mu = 1 / serviceMs;
  const lambda = lambdaPerS / 1000;
  const a = lambda / mu;
  const rho = a / c;
  let sum = 0;
  let term = 1;
  for (let k = 0; k < c; k++) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const last = (term * a) / c; // a^c / c!
  const erlangC = last / (1 - rho) / (sum + last / (1 - rho));
  return serviceMs + erlangC / (c * mu - lambda);
}

describe('Theorem 4 bound (birth–death chain)', () => {
  it('is the M/M/c response time for one chain of capacity c (both bounds)', () => {
    for (const [c, T, lambda] of [[1, 2000, 0.3], [4, 5000, 0.7], [12, 800, 10]] as const) {
      const expected = mmcResponseMs(c, T, lambda);
      expect(jffcResponseTimeBoundMs([{ capacity: c, serviceMs: T }], lambda, 'lower')).toBeCloseTo(expected, 6);
      expect(jffcResponseTimeBoundMs([{ capacity: c, serviceMs: T }], lambda, 'upper')).toBeCloseTo(expected, 6);
    }
  });
  it('lower ≤ upper, both ≥ the fastest service time, on random chain sets', () => {
    const rnd = mulberry32(5);
    for (let i = 0; i < 200; i++) {
      const chains = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => ({ capacity: 1 + Math.floor(rnd() * 6), serviceMs: 100 + rnd() * 5000 }));
      const maxRate = chains.reduce((a, c) => a + (1000 * c.capacity) / c.serviceMs, 0);
      const lambda = rnd() * maxRate * 0.95;
      const lo = jffcResponseTimeBoundMs(chains, lambda, 'lower');
      const hi = jffcResponseTimeBoundMs(chains, lambda, 'upper');
      expect(lo).toBeLessThanOrEqual(hi * (1 + 1e-9));
      expect(lo).toBeGreaterThanOrEqual(Math.min(...chains.map((c) => c.serviceMs)) * (1 - 1e-9));
    }
  });
  it('is the fastest chain at λ = 0 and Infinity when λ reaches the total service rate', () => {
    const chains = [{ capacity: 2, serviceMs: 1000 }, { capacity: 1, serviceMs: 500 }];
    expect(jffcResponseTimeBoundMs(chains, 0)).toBe(500);
    expect(jffcResponseTimeBoundMs(chains, 4)).toBe(Infinity); // 2/1 s + 1/0.5 s = 4 jobs/s
    expect(jffcResponseTimeBoundMs([], 1)).toBe(Infinity);
  });
});

describe('GBP-CR is optimal for equal memories', () => {
  // Criterion (the follow-up's model): servers reserve cache for c sessions on each of their m(c)
  // blocks and form disjoint chains; a chain is c parallel servers of rate 1/T_k, so the swarm's
  // service rate is c · Σ_k 1/T_k. Brute force: every way to group (a subset of) the servers into
  // disjoint chains of ⌈L/m⌉ servers. Checked with L a multiple of m(c): when the last server of a
  // chain must be shifted back, GBP-CR shifts the one last in t/m order, which is not always the
  // best choice (a scratch run over 400 seeded tiny instances: brute force beat it on 91 of the 161 where m(c) does not divide L).
  it('maximizes Σ_k 1/T_k over all disjoint-chain groupings (brute force, 150 instances with m(c) | L)', () => {
    let checked = 0;
    for (let seed = 1; checked < 150 && seed < 3000; seed++) {
      const snap = randomInstance(seed, {
        servers: 2 + (seed % 5),
        clients: 1 + (seed % 2),
        blocks: 2 + (seed % 5),
        memoryBlocks: [2.2 + (seed % 3), 0],
        equalMemory: true,
        cacheRatio: 0.1,
        arrivalRatePerS: 1e9, // never stop early: every server is placed
      });
      const c = 1 + (seed % 3);
      const L = snap.model.numBlocks;
      const m = gbpCrBlockCount(snap.servers[0]?.memoryBytes ?? 0, snap.model, c);
      if (m < 1 || L % m !== 0) continue;
      const costs = serverJobCosts(snap, snap.workload.meanInputTokens, snap.workload.meanOutputTokens);
      const T = (id: string): number => (costs.get(id)?.commMs ?? NaN) + (costs.get(id)?.computeMsPerBlock ?? NaN) * m;
      const n = L / m;
      let best = 0;
      const group = (left: readonly string[], acc: number): void => {
        best = Math.max(best, acc);
        const [first, ...rest] = left;
        if (first === undefined || left.length < n) return;
        group(rest, acc); // first stays idle
        const choose = (from: number, pick: string[]): void => {
          if (pick.length === n) {
            group(rest.filter((x) => !pick.includes(x)), acc + 1 / pick.reduce((a, id) => a + T(id), 0));
            return;
          }
          for (let i = from; i < rest.length; i++) choose(i + 1, [...pick, rest[i] ?? '']);
        };
        choose(0, [first]);
      };
      group(snap.servers.map((s) => s.id), 0);
      const placed = gbpCrPlacement(snap, c);
      const mine = placed === null ? 0 : placed.chains.reduce((a, k) => a + 1 / k.serviceMs, 0);
      expect(mine).toBeCloseTo(best, 12);
      checked++;
    }
    expect(checked).toBe(150);
  });
});

describe('GBP-CR placement', () => {
  it('stops adding chains once Σ 1/T ≥ λ / (ρ̄ c); slower servers stay idle', () => {
    const snap = randomInstance(3, { servers: 12, blocks: 6, memoryBlocks: [3.5, 0], equalMemory: true, cacheRatio: 0.1, arrivalRatePerS: 1e9 });
    const all = gbpCrPlacement(snap, 1);
    expect(all?.chains.length).toBe(6); // 12 servers of 3 blocks: 6 chains
    const fastest = Math.max(...(all?.chains ?? []).map((k) => 1 / k.serviceMs));
    snap.workload.arrivalRatePerS = fastest * 1000 * gbpCrTargetLoad * 1.5; // the first chain alone is not enough at c = 1
    const some = gbpCrPlacement(snap, 1);
    const rate = (some?.chains ?? []).reduce((a, k) => a + 1 / k.serviceMs, 0);
    expect(some?.chains.length).toBeGreaterThanOrEqual(2);
    expect(some?.chains.length).toBeLessThan(6);
    expect(rate).toBeGreaterThanOrEqual(snap.workload.arrivalRatePerS / 1000 / gbpCrTargetLoad);
    expect(some?.assignments.filter((a) => a.span === null).length).toBe(12 - 2 * (some?.chains.length ?? 0));
  });
  it('the 1-D search returns the c with the smallest Theorem-4 lower bound over its GCA chains (up to a near-tie)', () => {
    const snap = randomInstance(11, { servers: 6, blocks: 8, memoryBlocks: [3, 12], cacheRatio: 0.05, arrivalRatePerS: 0.5 });
    const choice = chooseGbpCrReservation(snap);
    const cMax = gbpCrMaxReservation(snap);
    expect(cMax).toBeGreaterThan(1);
    const linkCost = jobLinkCostMs(serverJobCosts(snap, snap.workload.meanInputTokens, snap.workload.meanOutputTokens));
    for (let c = 1; c <= cMax; c++) {
      const p = gbpCrPlacement(snap, c);
      if (p === null) continue;
      const gca = allocateCache(p.assignments, snap.model.numBlocks, linkCost);
      expect(choice.responseLowerBoundMs).toBeLessThanOrEqual(jffcResponseTimeBoundMs(gca, 0.5, 'lower') * (1 + gbpCrTieTolerance));
    }
  });
  it('on the BPRR testbed fills GCA chains, c and the prediction', async () => {
    const r = await gbpCr()(bloomClusteredTestbed(64, 0.5));
    expect(r.policy).toBe('gbp-cr');
    expect(r.reservedSessions).toBeGreaterThanOrEqual(1);
    expect(r.chains?.length).toBeGreaterThanOrEqual(1);
    for (const k of r.chains ?? []) {
      expect(k.capacity).toBeGreaterThanOrEqual(1);
      expect(k.chain.hops[0]?.span.start).toBe(0);
      expect(k.chain.hops.at(-1)?.span.end).toBe(70);
    }
    expect(r.prediction.perTokenMs).toBeGreaterThan(0);
  });
  it('is infeasible (code "infeasible") when no c lets the servers hold L blocks', async () => {
    const snap = bloomClusteredTestbed();
    snap.servers = snap.servers.filter((s) => s.id.startsWith('mig'));
    snap.servers = snap.servers.map((s) => ({ ...s, memoryBytes: 2e9 }));
    await expect(gbpCr()(snap)).rejects.toMatchObject({ code: 'infeasible', reason: expect.stringContaining('of L = 70 blocks') as unknown });
  });
});

/** The snapshot with every server's speeds scaled by (1 + ε·u), u ∈ [−1, 1] drawn per server. */
function perturbed(snap: SwarmSnapshot, epsilon: number, seed: number): SwarmSnapshot {
  const random = mulberry32(seed);
  const copy = structuredClone(snap);
  for (const s of copy.servers) {
    const f = 1 + epsilon * (2 * random() - 1);
    s.decodeMsPerBlock *= f;
    s.prefillMsPerBlock = { perTokenMs: s.prefillMsPerBlock.perTokenMs * f, fixedMs: s.prefillMsPerBlock.fixedMs * f };
  }
  copy.workload.arrivalRatePerS *= 1 + epsilon * (2 * random() - 1);
  return copy;
}

describe('GBP-CR: robust choice of c', () => {
  const testbeds = ['scenarios/followup-llama2-7b-4096ctx.json', 'scenarios/followup-llama2-7b.json', 'scenarios/bprr-clustered.json'];
  for (const file of testbeds) {
    it(`picks the same c when speeds and λ move by ±1e-9 (${file})`, () => {
      const snap = loadScenario(file).snapshot;
      const c = chooseGbpCrReservation(snap).placement.reservation;
      for (let seed = 1; seed <= 8; seed++) {
        expect(chooseGbpCrReservation(perturbed(snap, 1e-9, seed)).placement.reservation).toBe(c);
      }
    });
  }

  it('breaks a near-tie towards the c that uses all servers: nine servers of the follow-up testbed all host blocks', () => {
    // The bound is flat in c there (within float noise of ~10 s): c = 8–11 would idle six servers.
    const choice = chooseGbpCrReservation(loadScenario('scenarios/followup-llama2-7b-4096ctx.json').snapshot);
    expect(choice.serversUsed).toBe(9);
    expect(choice.placement.assignments.every((a) => a.span !== null)).toBe(true);
  });

  it('scores c on the GCA chains it returns, the chains JFFC dispatches on', async () => {
    const snap = loadScenario('scenarios/followup-llama2-7b-4096ctx.json').snapshot;
    const choice = chooseGbpCrReservation(snap);
    expect(choice.responseLowerBoundMs).toBe(jffcResponseTimeBoundMs(choice.gcaChains, snap.workload.arrivalRatePerS, 'lower'));
    const r = await gbpCr()(snap);
    expect(r.chains?.map((k) => k.capacity)).toEqual(choice.gcaChains.map((k) => k.capacity));
    expect(r.reservedSessions).toBe(choice.placement.reservation);
  });
});
