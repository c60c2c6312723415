// The exact BPRR MILP: it matches brute force over all placements and routings on tiny instances,
// and its optimum is ≤ every heuristic's value under the same objective.
import { describe, expect, it } from 'vitest';
import { chainCostMs, enumerateChains } from '../../../core/chains/index.ts';
import { decodeLinkCostMs } from '../../../core/perf/index.ts';
import {
  bprr,
  bprrObjectiveMs,
  gbpCr,
  makeAssignment,
  milp,
  petals,
  placeBlocks,
  requestClients,
  solveBprrMilp,
  type ServerAssignment,
} from '../../../core/placement/index.ts';
import type { BlockSpan, Chain, SwarmSnapshot } from '../../../core/swarm/index.ts';
import { randomInstance } from './fixtures.ts';

/** min over every placement (each server idle or any span that fits its memory) and every memory-feasible routing. */
function bruteForceOptimum(snap: SwarmSnapshot, R: number): number {
  const L = snap.model.numBlocks;
  const { blockBytes: sm, cacheBytesPerBlock: sc } = snap.model;
  const lOut = snap.workload.meanOutputTokens;
  const clients = requestClients(snap, R);
  const options = snap.servers.map((s) => {
    const out: (BlockSpan | null)[] = [null];
    for (let m = 1; m <= L && sm * m <= s.memoryBytes; m++) for (let a = 0; a + m <= L; a++) out.push({ start: a, end: a + m });
    return out;
  });
  let best = Infinity;
  const place = (j: number, spans: (BlockSpan | null)[]): void => {
    if (j === snap.servers.length) {
      const assignments = snap.servers.map((s, i) => makeAssignment(snap, s, spans[i] ?? null));
      const chains = enumerateChains(assignments, L);
      if (chains.length === 0) return;
      const slots = new Map(assignments.map((a) => [a.serverId, (snap.servers.find((s) => s.id === a.serverId)?.memoryBytes ?? 0) - sm * (a.span === null ? 0 : a.span.end - a.span.start)]));
      const route = (r: number, used: Map<string, number>, acc: number): void => {
        if (acc >= best) return;
        if (r === R) {
          best = acc;
          return;
        }
        const cost = decodeLinkCostMs(snap, clients[r] ?? '');
        for (const ch of chains) {
          const next = new Map(used);
          let ok = true;
          for (const h of ch.hops) {
            const u = (next.get(h.serverId) ?? 0) + sc * (h.span.end - h.span.start);
            next.set(h.serverId, u);
            if (u > (slots.get(h.serverId) ?? 0) + 1e-6) ok = false;
          }
          if (ok) route(r + 1, next, acc + lOut * chainCostMs(ch, cost));
        }
      };
      route(0, new Map(), 0);
      return;
    }
    for (const o of options[j] ?? []) place(j + 1, [...spans, o]);
  };
  place(0, []);
  return best;
}

function tiny(seed: number): SwarmSnapshot {
  // 3 servers, 3–4 blocks, memory of 1.3–3.5 blocks, caches of 0.3 blocks: memory binds often.
  return randomInstance(seed, { servers: 3, clients: 1 + (seed % 2), blocks: 3 + (seed % 2), memoryBlocks: [1.3, 3.5], cacheRatio: 0.3 });
}

describe('BPRR MILP (HiGHS)', () => {
  it('equals the brute-force optimum over placements and routings on tiny instances', async () => {
    let solved = 0;
    for (let seed = 1; solved < 8 && seed < 60; seed++) {
      const snap = tiny(seed);
      const R = 1 + (seed % 2);
      const brute = bruteForceOptimum(snap, R);
      if (brute === Infinity) {
        await expect(solveBprrMilp(snap, R, 20_000)).rejects.toMatchObject({ code: 'infeasible' });
        continue;
      }
      const sol = await solveBprrMilp(snap, R, 20_000);
      expect(sol.report.status).toBe('optimal');
      expect(sol.report.objective).toBeCloseTo(brute, 4);
      expect(sol.report.gap).toBeLessThanOrEqual(1e-6);
      // Its routes are chains of its placement whose MILP-objective value is the reported objective.
      const clients = requestClients(snap, R);
      const value = sol.routes.reduce((a: number, ch: Chain, r) => a + snap.workload.meanOutputTokens * chainCostMs(ch, decodeLinkCostMs(snap, clients[r] ?? '')), 0);
      expect(value).toBeCloseTo(sol.report.objective, 4);
      solved++;
    }
    expect(solved).toBe(8);
  });

  it('its optimum is ≤ the value of every heuristic placement under the same objective', async () => {
    let compared = 0;
    for (let seed = 100; compared < 6 && seed < 200; seed++) {
      const snap = randomInstance(seed, { servers: 4, clients: 1, blocks: 4, memoryBlocks: [2, 5], cacheRatio: 0.2, concurrentRequests: 2 });
      const heuristics: ServerAssignment[][] = [];
      for (const policy of [petals({ seed }), bprr(), gbpCr()]) {
        const r = await policy(snap).catch(() => null);
        if (r !== null) heuristics.push(r.assignments);
      }
      const values = heuristics.map((a) => bprrObjectiveMs(snap, a, 2).objectiveMs).filter((v) => Number.isFinite(v));
      if (values.length === 0) continue;
      const exact = await milp({ timeLimitMs: 20_000 })(snap);
      expect(exact.milp?.status).toBe('optimal');
      for (const v of values) expect(exact.milp?.objective ?? Infinity).toBeLessThanOrEqual(v + 1e-6);
      compared++;
    }
    expect(compared).toBe(6);
  });

  it('is registered; placeBlocks rejects unknown names with code "unknown-policy"', async () => {
    const snap = tiny(2);
    const r = await placeBlocks('milp', snap, { concurrentRequests: 1, timeLimitMs: 20_000 });
    expect(r.policy).toBe('milp');
    expect(r.reservedSessions).toBe(1);
    expect(r.milp?.bound).toBeLessThanOrEqual((r.milp?.objective ?? 0) + 1e-6);
    await expect(placeBlocks('nope', snap)).rejects.toMatchObject({ code: 'unknown-policy' });
  });

  it('is infeasible (code "infeasible") when no placement caches R sessions', async () => {
    const snap = tiny(3);
    snap.servers = snap.servers.map((s) => ({ ...s, memoryBytes: 1100 }));
    await expect(milp({ concurrentRequests: 3 })(snap)).rejects.toMatchObject({ code: 'infeasible' });
  });
});
