// The relaxed lower bound on response times: every request alone on the swarm, on the fastest chain any placement could give it.
import { perTokenRttMs, prefillMsPerBlock, prefillRttMs } from '../core/perf/index.ts';
import { maxBlocksFor } from '../core/dispatch/index.ts';
import { tokenBlocksFor } from '../core/cache/index.ts';
import { slotTokensOf } from '../core/placement/index.ts';
import type { SwarmSnapshot } from '../core/swarm/index.ts';
import type { SimRequest } from './arrivals.ts';

/** The bound over one run's requests, ms. */
export interface ResponseLowerBound {
  /** Mean over requests of each one's bound, ms: no policy's mean response can be lower. */
  meanMs: number;
  /** The 95th percentile of the per-request bounds, ms: no policy's p95 response can be lower. */
  p95Ms: number;
}

/**
 * Cache one session of `tokens` tokens keeps on one model block, bytes: admission by declared
 * length reserves no less than a request's own tokens (in 16-token blocks of a slot), so that is
 * the relaxation; a whole slot (s_c) when the model does not say how many tokens a slot holds.
 */
export function sessionCacheBytesPerBlock(model: SwarmSnapshot['model'], tokens: number): number {
  const { units, unitsPerSlot } = sessionCacheUnits(model, tokens);
  return (model.cacheBytesPerBlock * units) / unitsPerSlot;
}

/**
 * The same cache counted in whole units of a slot (s_c / unitsPerSlot bytes per block each): its
 * 16-token blocks, or one unit, a whole slot, when the model does not say how many tokens a slot holds.
 */
export function sessionCacheUnits(model: SwarmSnapshot['model'], tokens: number): { units: number; unitsPerSlot: number } {
  if (model.kvDim === undefined && model.hiddenSize === undefined) return { units: 1, unitsPerSlot: 1 };
  const slot = slotTokensOf(model, tokens);
  return { units: tokenBlocksFor(Math.min(slot, Math.ceil(tokens))), unitsPerSlot: tokenBlocksFor(slot) };
}

/** Most blocks a server of `memoryBytes` can hold next to the cache of one session of `tokens` tokens. */
function maxBlocksBeside(memoryBytes: number, model: SwarmSnapshot['model'], tokens: number): number {
  if (model.kvDim === undefined && model.hiddenSize === undefined) return maxBlocksFor(memoryBytes, model);
  const cacheBytes = sessionCacheBytesPerBlock(model, tokens);
  return Math.max(0, Math.min(model.numBlocks, Math.floor(memoryBytes / (model.blockBytes + cacheBytes))));
}

/** What one hop on one server costs one request, in the relaxation of `fastestServiceMs`. */
export interface HopCost {
  serverId: string;
  /** Most blocks the server holds beside this one session's cache. */
  maxBlocks: number;
  /** The hop's fixed cost, ms: tᴵ_cj + (l_out − 1) t_cj. */
  fixedMs: number;
  /** The hop's cost per block it runs, ms: τᴵ_j(l_in) + (l_out − 1) τ_j. */
  perBlockMs: number;
}

/**
 * Cost of a hop on each server that can hold ≥ 1 block beside the session of a request of `lIn`
 * prompt and `lOut` output tokens from `clientId` (nominal speeds): k blocks cost fixedMs + k · perBlockMs.
 */
export function hopCosts(snapshot: SwarmSnapshot, clientId: string, lIn: number, lOut: number): HopCost[] {
  return snapshot.servers
    .map((s) => ({
      serverId: s.id,
      maxBlocks: maxBlocksBeside(s.memoryBytes, snapshot.model, lIn + lOut),
      fixedMs: prefillRttMs(snapshot, clientId, s.id, lIn) + (lOut - 1) * perTokenRttMs(snapshot, clientId, s.id),
      perBlockMs: prefillMsPerBlock(s, lIn) + (lOut - 1) * s.decodeMsPerBlock,
    }))
    .filter((s) => s.maxBlocks > 0);
}

/** The fastest chains over all L blocks, ms (Infinity where none exists). */
export interface FastestChains {
  /** Any number of hops. */
  anyMs: number;
  /** Two hops or more. */
  multiHopMs: number;
}

/** Shortest paths over blocks 0..L built from `hops` (a server may appear twice). */
export function fastestChainsMs(hops: readonly HopCost[], numBlocks: number): FastestChains {
  const L = numBlocks;
  // hop[k]: the cheapest single hop of exactly k blocks.
  const hop = new Float64Array(L + 1).fill(Infinity);
  for (const s of hops) for (let k = 1; k <= Math.min(L, s.maxBlocks); k++) hop[k] = Math.min(hop[k] ?? Infinity, s.fixedMs + k * s.perBlockMs);
  const best = new Float64Array(L + 1).fill(Infinity);
  best[0] = 0;
  for (let b = 1; b <= L; b++) {
    for (let k = 1; k <= b; k++) best[b] = Math.min(best[b] ?? Infinity, (best[b - k] ?? Infinity) + (hop[k] ?? Infinity));
  }
  // ≥ 2 hops: a last hop of k < L blocks after any chain over the first L − k.
  let multiHopMs = Infinity;
  for (let k = 1; k < L; k++) multiHopMs = Math.min(multiHopMs, (best[L - k] ?? Infinity) + (hop[k] ?? Infinity));
  return { anyMs: best[L] ?? Infinity, multiHopMs };
}

/**
 * Fastest possible service of one request of `lIn` prompt and `lOut` output tokens from `clientId`,
 * ms: a shortest path over blocks 0..L where any server may run any k ≤ its max blocks (keeping
 * cache for this one request's tokens, `sessionCacheBytesPerBlock`) at cost tᴵ_cj + (l_out − 1) t_cj + k (τᴵ_j(l_in) + (l_out − 1) τ_j). The
 * relaxation: no queueing, no other session, a server may appear twice, every placement at once,
 * nominal speeds (the service model's speed draws and contention are ignored).
 */
export function fastestServiceMs(snapshot: SwarmSnapshot, clientId: string, lIn: number, lOut: number): number {
  return fastestChainsMs(hopCosts(snapshot, clientId, lIn, lOut), snapshot.model.numBlocks).anyMs;
}

/** The relaxed lower bound over a run's requests (their actual lengths: a bound, not a plan), ms. */
export function responseLowerBound(snapshot: SwarmSnapshot, requests: readonly SimRequest[]): ResponseLowerBound {
  const memo = new Map<string, number>();
  const values = requests.map((r) => {
    const key = `${r.clientId}\u0000${r.inputTokens}\u0000${r.outputTokens}`;
    let v = memo.get(key);
    if (v === undefined) {
      v = fastestServiceMs(snapshot, r.clientId, r.inputTokens, r.outputTokens);
      memo.set(key, v);
    }
    return v;
  });
  if (values.length === 0) return { meanMs: 0, p95Ms: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return { meanMs: values.reduce((a, v) => a + v, 0) / values.length, p95Ms: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? 0 };
}
