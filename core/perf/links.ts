// Link costs of the feasible-link DAG built from the performance model: what routing and placement minimize.
import type { SwarmSnapshot } from '../swarm/index.ts';
import { PerfModelError, perTokenRttMs, prefillMsPerBlock, prefillRttMs } from './model.ts';

/** Cost of sending a request to server `serverId` for `blocks` consecutive blocks, ms. */
export type LinkCostMs = (serverId: string, blocks: number, isFirst: boolean) => number;

/**
 * BPRR's per-token link cost for client c: t^c_ij = t_cj + τ_j · k_ij, ms (algorithms.md §1).
 * Shortest paths under it minimize the decode time per token (Lemma 3 routing).
 */
export function decodeLinkCostMs(snapshot: SwarmSnapshot, clientId: string): LinkCostMs {
  // Per-server constants are computed once: routing calls the cost O(J · L) times.
  const table = new Map<string, readonly [number, number]>();
  for (const s of snapshot.servers) table.set(s.id, [perTokenRttMs(snapshot, clientId, s.id), s.decodeMsPerBlock]);
  return linearCost(table);
}

/** A link cost fixed + perBlock · k from a per-server table; throws for an unknown server. */
function linearCost(table: Map<string, readonly [number, number]>): LinkCostMs {
  return (serverId, blocks) => {
    const c = table.get(serverId);
    if (c === undefined) throw new PerfModelError(`snapshot has no server '${serverId}'`);
    return c[0] + c[1] * blocks;
  };
}

/**
 * Whole-request link cost for client c with no waiting:
 * tᴵ_cj + (l_out − 1) t_cj + (τᴵ_j(l_in) + (l_out − 1) τ_j) · k_ij, ms (WS-RR's cost without t^W).
 * The sum over a chain equals requestTime(...).totalMs with no waiting.
 */
export function requestLinkCostMs(snapshot: SwarmSnapshot, clientId: string, lIn: number, lOut: number): LinkCostMs {
  const table = new Map<string, readonly [number, number]>();
  for (const s of snapshot.servers) {
    const transfer = prefillRttMs(snapshot, clientId, s.id, lIn) + (lOut - 1) * perTokenRttMs(snapshot, clientId, s.id);
    table.set(s.id, [transfer, prefillMsPerBlock(s, lIn) + (lOut - 1) * s.decodeMsPerBlock]);
  }
  return linearCost(table);
}

/** One server's job costs in the follow-up's notation (algorithms.md §4), ms. */
export interface ServerJobCost {
  /** τᶜ_j: all communication of one job with this server, tᴵ_cj + (l_out − 1) t_cj, averaged over clients by weight. */
  commMs: number;
  /** τᵖ_j: all compute of one job per block on this server, τᴵ_j(l_in) + (l_out − 1) τ_j. */
  computeMsPerBlock: number;
}

/** Normalized client weights (default weight 1); throws when there is no client or all weights are 0. */
export function clientWeights(snapshot: SwarmSnapshot): Map<string, number> {
  if (snapshot.clients.length === 0) throw new PerfModelError('snapshot has no clients: add at least one to clients[]');
  const raw = snapshot.clients.map((c) => {
    const w = c.weight ?? 1;
    if (!Number.isFinite(w) || w < 0) throw new PerfModelError(`client '${c.id}' has weight ${w}; weights must be ≥ 0`);
    return w;
  });
  const sum = raw.reduce((a, b) => a + b, 0);
  if (sum <= 0) throw new PerfModelError('all client weights are 0');
  return new Map(snapshot.clients.map((c, i) => [c.id, (raw[i] ?? 0) / sum]));
}

/** τᶜ_j and τᵖ_j for every server for jobs of l_in input and l_out output tokens, keyed by server id. */
export function serverJobCosts(snapshot: SwarmSnapshot, lIn: number, lOut: number): Map<string, ServerJobCost> {
  const weights = clientWeights(snapshot);
  const out = new Map<string, ServerJobCost>();
  for (const s of snapshot.servers) {
    let commMs = 0;
    for (const [clientId, w] of weights) {
      if (w === 0) continue;
      commMs += w * (prefillRttMs(snapshot, clientId, s.id, lIn) + (lOut - 1) * perTokenRttMs(snapshot, clientId, s.id));
    }
    out.set(s.id, { commMs, computeMsPerBlock: prefillMsPerBlock(s, lIn) + (lOut - 1) * s.decodeMsPerBlock });
  }
  return out;
}

/** The follow-up's chain link cost τᶜ_j + τᵖ_j · k_ij from precomputed job costs, ms. */
export function jobLinkCostMs(costs: Map<string, ServerJobCost>): LinkCostMs {
  return linearCost(new Map([...costs].map(([id, c]) => [id, [c.commMs, c.computeMsPerBlock] as const])));
}
