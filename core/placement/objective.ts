// The BPRR MILP's objective for any placement, so heuristics and the MILP are compared in the same units.
import type { Chain, SwarmSnapshot } from '../swarm/index.ts';
import { clientWeights, decodeLinkCostMs } from '../perf/index.ts';
import { shortestChainWithCost } from '../chains/index.ts';
import { plannedLengths } from './common.ts';
import type { ServerAssignment } from './types.ts';

/**
 * Spreads R identical requests over the clients in proportion to their weights (largest remainder,
 * ties → snapshot order); returns one client id per request.
 */
export function requestClients(snapshot: SwarmSnapshot, requests: number): string[] {
  const weights = [...clientWeights(snapshot)];
  const exact = weights.map(([id, w]) => ({ id, n: Math.floor(w * requests), rem: w * requests - Math.floor(w * requests) }));
  let left = requests - exact.reduce((a, x) => a + x.n, 0);
  for (const x of [...exact].sort((a, b) => b.rem - a.rem)) {
    if (left <= 0) break;
    x.n++;
    left--;
  }
  return exact.flatMap((x) => Array.from({ length: x.n }, () => x.id));
}

/** A placement's value under the MILP objective, with the routes that achieve it. */
export interface BprrObjective {
  /** Σ_r l_out Σ_{j∈p_r} (t_{c_r j} + τ_j k_j), ms summed over the R requests (Infinity if some request cannot be routed). */
  objectiveMs: number;
  /** Route of each request (null where none fits in memory). */
  routes: (Chain | null)[];
}

/**
 * The BPRR MILP objective Σ_r l_out Σ (t_{c_r j} + τ_j k_ij) of a placement for R concurrent
 * requests: requests (spread over clients by requestClients) are routed one at a time on the
 * shortest chain under t^c_ij among links whose server still has k_ij cache slots, and the slots
 * are booked. A memory-feasible routing, so the MILP optimum is ≤ this value for any placement whose
 * weights fit in memory (placements that do not fit give Infinity).
 */
export function bprrObjectiveMs(snapshot: SwarmSnapshot, assignments: readonly ServerAssignment[], requests: number): BprrObjective {
  const { lOut } = plannedLengths(snapshot);
  const memory = new Map(snapshot.servers.map((s) => [s.id, s.memoryBytes]));
  const slots = new Map<string, number>();
  for (const a of assignments) {
    const m = a.span === null ? 0 : a.span.end - a.span.start;
    if (snapshot.model.blockBytes * m > (memory.get(a.serverId) ?? 0)) return { objectiveMs: Infinity, routes: [] };
    slots.set(a.serverId, a.cacheSlots);
  }
  let objectiveMs = 0;
  const routes: (Chain | null)[] = [];
  for (const clientId of requestClients(snapshot, requests)) {
    const found = shortestChainWithCost(assignments, snapshot.model.numBlocks, decodeLinkCostMs(snapshot, clientId), (id, k) => (slots.get(id) ?? 0) >= k);
    if (found === null) {
      routes.push(null);
      objectiveMs = Infinity;
      continue;
    }
    for (const h of found.chain.hops) slots.set(h.serverId, (slots.get(h.serverId) ?? 0) - (h.span.end - h.span.start));
    routes.push(found.chain);
    objectiveMs += lOut * found.costMs;
  }
  return { objectiveMs, routes };
}
