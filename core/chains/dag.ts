// The feasible-link DAG of BPRR (algorithms.md §1): shortest chains, all chains (for brute force) and GCA.
//
// Index translation. The paper numbers blocks from 1: server j holds {a_j, …, a_j + m_j − 1}, the
// client is a source with a + m = 1, link i → j is feasible iff a_j ≤ a_i + m_i ≤ a_j + m_j − 1,
// j then runs k_ij = a_j + m_j − a_i − m_i blocks, and j is a sink when a_j + m_j = L + 1.
// Here spans are 0-based with exclusive ends: start_j = a_j − 1, end_j = a_j − 1 + m_j, so
// a_i + m_i (the next block needed, 1-based) is end_i + 1 and the rule becomes
//   start_j ≤ end_i < end_j,   k_ij = end_j − end_i,   source end = 0,   sink when end_j = L,
// and the hop of j covers [end_i, end_j). A link's cost depends only on (j, end_i), so a shortest
// path needs one label per block position, not per server.
import type { BlockSpan, Chain } from '../swarm/index.ts';
import type { LinkCostMs } from '../perf/index.ts';
// Type-only import (erased at runtime): core/placement imports this module, so no runtime cycle.
import type { ChainCapacity } from '../placement/index.ts';

/** What the DAG needs of a placement: who holds which span (ServerAssignment fits). */
export interface PlacedSpan {
  serverId: string;
  /** Blocks held, 0-based, end exclusive; null when idle. */
  span: BlockSpan | null;
}

/** A placement with cache slots n_j (ServerAssignment fits). */
export interface PlacedSpanWithSlots extends PlacedSpan {
  cacheSlots: number;
}

/** Optional filter on links: may server `serverId` run `blocks` blocks starting at `fromBlock`? */
export type LinkFilter = (serverId: string, blocks: number, fromBlock: number) => boolean;

interface Placed {
  serverId: string;
  start: number;
  end: number;
}

function usable(assignments: readonly PlacedSpan[], numBlocks: number): Placed[] {
  const out: Placed[] = [];
  for (const a of assignments) {
    if (a.span === null) continue;
    const start = Math.max(0, a.span.start);
    const end = Math.min(numBlocks, a.span.end);
    if (end > start) out.push({ serverId: a.serverId, start, end });
  }
  // Stable sort by end: a DP in this order sees every predecessor position before it is used.
  return out.map((p, i) => ({ p, i })).sort((x, y) => x.p.end - y.p.end || x.i - y.i).map((x) => x.p);
}

/**
 * Shortest source → sink chain on the feasible-link DAG under `linkCostMs` (called with the
 * server, k_ij and whether it is the first hop), or null when no chain covers all blocks.
 * Links with a non-finite cost or rejected by `allowed` are skipped. O(J · min(J, L)).
 * The hops carry the spans each server actually runs ([end_i, end_j)), in block order.
 */
export function shortestChain(
  assignments: readonly PlacedSpan[],
  numBlocks: number,
  linkCostMs: LinkCostMs,
  allowed?: LinkFilter,
): Chain | null {
  return shortestChainWithCost(assignments, numBlocks, linkCostMs, allowed)?.chain ?? null;
}

/** shortestChain plus the chain's total cost (sum of its link costs), ms. */
export function shortestChainWithCost(
  assignments: readonly PlacedSpan[],
  numBlocks: number,
  linkCostMs: LinkCostMs,
  allowed?: LinkFilter,
): { chain: Chain; costMs: number } | null {
  if (numBlocks <= 0) return null;
  return shortestOnPlaced(usable(assignments, numBlocks), numBlocks, (p, e) => {
    const k = p.end - e;
    if (allowed !== undefined && !allowed(p.serverId, k, e)) return Infinity;
    return linkCostMs(p.serverId, k, e === 0);
  });
}

/**
 * The DP of shortestChainWithCost over spans already clipped and sorted by end (`usable`);
 * `cost(p, e)` is the link into `p` from position e (non-finite: no link).
 */
function shortestOnPlaced<P extends Placed>(placed: readonly P[], numBlocks: number, cost: (p: P, e: number) => number): { chain: Chain; costMs: number } | null {
  // dist[e]: cheapest way to have blocks [0, e) processed; positions reached are 0 and server ends.
  const dist = new Float64Array(numBlocks + 1).fill(Infinity);
  const via: ({ serverId: string; from: number } | undefined)[] = new Array<{ serverId: string; from: number } | undefined>(numBlocks + 1);
  dist[0] = 0;
  const reached: number[] = [0]; // sorted ascending because servers come in order of end
  for (const p of placed) {
    let best = Infinity;
    let bestFrom = -1;
    // Predecessor positions e with start ≤ e < end (binary search for the first e ≥ start).
    let lo = 0;
    let hi = reached.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((reached[mid] ?? 0) < p.start) lo = mid + 1;
      else hi = mid;
    }
    for (let r = lo; r < reached.length; r++) {
      const e = reached[r] ?? 0;
      if (e >= p.end) break;
      const d = dist[e] ?? Infinity;
      if (d === Infinity) continue;
      const c = cost(p, e);
      if (!Number.isFinite(c)) continue;
      if (d + c < best) {
        best = d + c;
        bestFrom = e;
      }
    }
    if (bestFrom >= 0 && best < (dist[p.end] ?? Infinity)) {
      if (dist[p.end] === Infinity) reached.push(p.end);
      dist[p.end] = best;
      via[p.end] = { serverId: p.serverId, from: bestFrom };
    }
  }
  const total = dist[numBlocks] ?? Infinity;
  if (total === Infinity) return null;
  const hops: Chain['hops'] = [];
  let e = numBlocks;
  while (e > 0) {
    const v = via[e];
    if (v === undefined) return null; // unreachable: dist finite implies a predecessor
    hops.push({ serverId: v.serverId, span: { start: v.from, end: e } });
    e = v.from;
  }
  hops.reverse();
  return { chain: { hops }, costMs: total };
}

/**
 * Every source → sink chain of the DAG (exponential: for brute-force checks on tiny instances),
 * in depth-first order. `limit` stops the enumeration early (default 100 000 chains).
 */
export function enumerateChains(
  assignments: readonly PlacedSpan[],
  numBlocks: number,
  allowed?: LinkFilter,
  limit = 100_000,
): Chain[] {
  const placed = usable(assignments, numBlocks);
  const out: Chain[] = [];
  const hops: Chain['hops'] = [];
  const walk = (e: number): void => {
    if (out.length >= limit) return;
    if (e === numBlocks) {
      out.push({ hops: hops.map((h) => ({ serverId: h.serverId, span: { ...h.span } })) });
      return;
    }
    for (const p of placed) {
      if (p.start <= e && e < p.end) {
        const k = p.end - e;
        if (allowed !== undefined && !allowed(p.serverId, k, e)) continue;
        hops.push({ serverId: p.serverId, span: { start: e, end: p.end } });
        walk(p.end);
        hops.pop();
      }
    }
  };
  if (numBlocks > 0) walk(0);
  return out;
}

/** Sum of the link costs of a chain, ms. */
export function chainCostMs(chain: Chain, linkCostMs: LinkCostMs): number {
  let total = 0;
  for (const h of chain.hops) total += linkCostMs(h.serverId, h.span.end - h.span.start, h.span.start === 0);
  return total;
}

/**
 * GCA, the follow-up's greedy cache allocation (algorithms.md §4). Starting from slots
 * M̃_j = assignment.cacheSlots, repeatedly take the fastest remaining chain (link cost
 * τᶜ_j + τᵖ_j k_ij, given as `linkCostMs`), give it capacity c_k = min over hops ⌊M̃_j / k_ij⌋,
 * subtract k_ij · c_k from each hop's server and drop links that no longer fit, until no chain
 * connects source and sink. Chains come out fastest first; serviceMs is T_k. Each round exhausts
 * at least one link for good, so there are at most as many chains as links (O(J²)).
 */
export function allocateCache(
  assignments: readonly PlacedSpanWithSlots[],
  numBlocks: number,
  linkCostMs: LinkCostMs,
): ChainCapacity[] {
  if (numBlocks <= 0) return [];
  // The same chains as calling shortestChainWithCost with a slot filter each round, at a fraction
  // of the work (the c searches run GCA hundreds of times per placement): spans are clipped and
  // sorted once, each link's cost is computed once (it does not change between rounds, only
  // whether it still fits), servers with no slot left drop out, and the DP runs on typed arrays.
  const slotIndex = new Map<string, number>();
  const slotList: number[] = [];
  for (const a of assignments) {
    const n = Math.max(0, Math.floor(a.cacheSlots));
    const i = slotIndex.get(a.serverId);
    if (i === undefined) {
      slotIndex.set(a.serverId, slotList.length);
      slotList.push(n);
    } else slotList[i] = n;
  }
  const slots = Float64Array.from(slotList);
  const placed = usable(assignments, numBlocks);
  const n = placed.length;
  const pStart = new Int32Array(n);
  const pEnd = new Int32Array(n);
  const pSlot = new Int32Array(n);
  const pCost = new Int32Array(n); // offset of the server's row in `costs` (one entry per start position)
  let size = 0;
  placed.forEach((p, i) => {
    pStart[i] = p.start;
    pEnd[i] = p.end;
    pSlot[i] = slotIndex.get(p.serverId) ?? 0;
    pCost[i] = size;
    size += p.end - p.start;
  });
  const costs = new Float64Array(size).fill(Number.NaN);
  const active = Int32Array.from({ length: n }, (_, i) => i);
  let activeCount = n;
  const dist = new Float64Array(numBlocks + 1);
  const viaPlaced = new Int32Array(numBlocks + 1);
  const viaFrom = new Int32Array(numBlocks + 1);
  const reached = new Int32Array(numBlocks + 1);
  const out: ChainCapacity[] = [];
  for (;;) {
    // A server with no slot left fits no link again.
    let kept = 0;
    for (let a = 0; a < activeCount; a++) {
      const i = active[a] as number;
      if ((slots[pSlot[i] as number] as number) >= 1) active[kept++] = i;
    }
    activeCount = kept;
    dist.fill(Infinity);
    dist[0] = 0;
    reached[0] = 0;
    let reachedCount = 1;
    for (let a = 0; a < activeCount; a++) {
      const i = active[a] as number;
      const start = pStart[i] as number;
      const end = pEnd[i] as number;
      const free = slots[pSlot[i] as number] as number;
      let best = Infinity;
      let bestFrom = -1;
      let lo = 0;
      let hi = reachedCount;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((reached[mid] as number) < start) lo = mid + 1;
        else hi = mid;
      }
      for (let r = lo; r < reachedCount; r++) {
        const e = reached[r] as number;
        if (e >= end) break;
        const d = dist[e] as number;
        if (d === Infinity) continue;
        const k = end - e;
        if (free < k) continue;
        const at = (pCost[i] as number) + e - start;
        let c = costs[at] as number;
        if (Number.isNaN(c)) {
          c = linkCostMs((placed[i] as Placed).serverId, k, e === 0);
          if (Number.isNaN(c)) c = Infinity;
          costs[at] = c;
        }
        if (!Number.isFinite(c)) continue;
        if (d + c < best) {
          best = d + c;
          bestFrom = e;
        }
      }
      if (bestFrom >= 0 && best < (dist[end] as number)) {
        if (dist[end] === Infinity) reached[reachedCount++] = end;
        dist[end] = best;
        viaPlaced[end] = i;
        viaFrom[end] = bestFrom;
      }
    }
    const total = dist[numBlocks] as number;
    if (total === Infinity) break;
    const hops: Chain['hops'] = [];
    for (let e = numBlocks; e > 0; ) {
      const from = viaFrom[e] as number;
      hops.push({ serverId: (placed[viaPlaced[e] as number] as Placed).serverId, span: { start: from, end: e } });
      e = from;
    }
    hops.reverse();
    let capacity = Infinity;
    for (const h of hops) capacity = Math.min(capacity, Math.floor((slots[slotIndex.get(h.serverId) ?? 0] as number) / (h.span.end - h.span.start)));
    if (!(capacity >= 1) || !Number.isFinite(capacity)) break; // cannot happen: the slot check guarantees ≥ 1
    for (const h of hops) {
      const si = slotIndex.get(h.serverId) ?? 0;
      slots[si] = (slots[si] as number) - capacity * (h.span.end - h.span.start);
    }
    out.push({ chain: { hops }, capacity, serviceMs: total });
  }
  return out;
}
