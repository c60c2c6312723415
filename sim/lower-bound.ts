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
 * Most blocks a server of `memoryBytes` can hold next to the cache of one session of `tokens`
 * tokens: admission by declared length reserves no less than a request's own tokens (in 16-token
 * blocks of a slot), so that is the relaxation; a whole slot when the model does not say how many
 * tokens a slot holds.
 */
function maxBlocksBeside(memoryBytes: number, model: SwarmSnapshot['model'], tokens: number): number {
  if (model.kvDim === undefined && model.hiddenSize === undefined) return maxBlocksFor(memoryBytes, model);
  const slot = slotTokensOf(model, tokens);
  const cacheBytes = (model.cacheBytesPerBlock * tokenBlocksFor(Math.min(slot, Math.ceil(tokens)))) / tokenBlocksFor(slot);
  return Math.max(0, Math.min(model.numBlocks, Math.floor(memoryBytes / (model.blockBytes + cacheBytes))));
}

/**
 * Fastest possible service of one request of `lIn` prompt and `lOut` output tokens from `clientId`,
 * ms: a shortest path over blocks 0..L where any server may run any k ≤ its max blocks (keeping
 * cache for this one request's tokens, `maxBlocksBeside`) at cost tᴵ_cj + (l_out − 1) t_cj + k (τᴵ_j(l_in) + (l_out − 1) τ_j). The
 * relaxation: no queueing, no other session, a server may appear twice, every placement at once,
 * nominal speeds (the service model's speed draws and contention are ignored).
 */
export function fastestServiceMs(snapshot: SwarmSnapshot, clientId: string, lIn: number, lOut: number): number {
  const L = snapshot.model.numBlocks;
  const servers = snapshot.servers
    .map((s) => ({
      maxBlocks: maxBlocksBeside(s.memoryBytes, snapshot.model, lIn + lOut),
      fixed: prefillRttMs(snapshot, clientId, s.id, lIn) + (lOut - 1) * perTokenRttMs(snapshot, clientId, s.id),
      perBlock: prefillMsPerBlock(s, lIn) + (lOut - 1) * s.decodeMsPerBlock,
    }))
    .filter((s) => s.maxBlocks > 0);
  // hop[k]: the cheapest single hop of exactly k blocks.
  const hop = new Float64Array(L + 1).fill(Infinity);
  for (const s of servers) for (let k = 1; k <= Math.min(L, s.maxBlocks); k++) hop[k] = Math.min(hop[k] ?? Infinity, s.fixed + k * s.perBlock);
  const best = new Float64Array(L + 1).fill(Infinity);
  best[0] = 0;
  for (let b = 1; b <= L; b++) {
    for (let k = 1; k <= b; k++) best[b] = Math.min(best[b] ?? Infinity, (best[b - k] ?? Infinity) + (hop[k] ?? Infinity));
  }
  return best[L] ?? Infinity;
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
