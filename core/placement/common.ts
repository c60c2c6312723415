// Helpers every placement policy shares: input checks, cache slots, the no-wait prediction.
import type { BlockSpan, ServerSpec, SwarmSnapshot, TimeBreakdown } from '../swarm/index.ts';
import { cacheSlots, clientWeights, PerfModelError, perTokenMs, requestLinkCostMs, requestTime } from '../perf/index.ts';
import { shortestChain } from '../chains/index.ts';
import {
  InfeasiblePlacementError,
  type PlacementPolicy,
  type PlacementPrediction,
  type PlacementResult,
  type ServerAssignment,
} from './types.ts';

/** Planned request lengths: l_in and l_out (≥ 1) from the workload, tokens. */
export function plannedLengths(snapshot: SwarmSnapshot): { lIn: number; lOut: number } {
  const lIn = snapshot.workload.meanInputTokens;
  const lOut = snapshot.workload.meanOutputTokens;
  if (!(lIn >= 0) || !Number.isFinite(lIn)) throw new PerfModelError(`workload.meanInputTokens must be ≥ 0 (got ${lIn})`);
  if (!(lOut >= 1) || !Number.isFinite(lOut)) throw new PerfModelError(`workload.meanOutputTokens must be ≥ 1 (got ${lOut})`);
  return { lIn, lOut };
}

/** Throws PerfModelError (code 'bad-snapshot') naming the field when a snapshot cannot be planned for. */
export function checkSnapshot(snapshot: SwarmSnapshot): void {
  const { numBlocks, blockBytes, cacheBytesPerBlock } = snapshot.model;
  if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new PerfModelError(`model.numBlocks must be a positive integer (got ${numBlocks})`);
  if (!(blockBytes > 0)) throw new PerfModelError(`model.blockBytes must be positive (got ${blockBytes})`);
  if (!(cacheBytesPerBlock > 0)) throw new PerfModelError(`model.cacheBytesPerBlock must be positive (got ${cacheBytesPerBlock})`);
  if (snapshot.servers.length === 0) throw new InfeasiblePlacementError('the swarm has no servers');
  const seen = new Set<string>();
  for (const s of snapshot.servers) {
    if (seen.has(s.id)) throw new PerfModelError(`server id '${s.id}' appears twice`);
    seen.add(s.id);
    if (!(s.memoryBytes >= 0)) throw new PerfModelError(`server '${s.id}': memoryBytes must be ≥ 0 (got ${s.memoryBytes})`);
    if (!(s.decodeMsPerBlock >= 0)) throw new PerfModelError(`server '${s.id}': decodeMsPerBlock must be ≥ 0 (got ${s.decodeMsPerBlock})`);
  }
  plannedLengths(snapshot);
  clientWeights(snapshot);
}

/** A server's assignment with n_j computed from its memory and span. */
export function makeAssignment(snapshot: SwarmSnapshot, server: ServerSpec, span: BlockSpan | null): ServerAssignment {
  const m = span === null ? 0 : span.end - span.start;
  return {
    serverId: server.id,
    span,
    cacheSlots: cacheSlots(server.memoryBytes, m, snapshot.model.blockBytes, snapshot.model.cacheBytesPerBlock),
  };
}

/** First block (0-based) no assignment covers, or -1 when all L blocks are covered. */
export function firstUncoveredBlock(assignments: readonly ServerAssignment[], numBlocks: number): number {
  const covered = new Uint8Array(numBlocks);
  for (const a of assignments) {
    if (a.span === null) continue;
    for (let b = Math.max(0, a.span.start); b < Math.min(numBlocks, a.span.end); b++) covered[b] = 1;
  }
  return covered.indexOf(0);
}

/**
 * What every PlacementResult carries: each client takes its shortest chain under the whole-request
 * cost with no waiting; breakdowns are averaged over clients by weight, per request (ms), and
 * perTokenMs = average T / l_out. Throws InfeasiblePlacementError when some block is uncovered.
 */
export function predictPlacement(snapshot: SwarmSnapshot, assignments: readonly ServerAssignment[]): PlacementPrediction {
  const L = snapshot.model.numBlocks;
  const gap = firstUncoveredBlock(assignments, L);
  if (gap >= 0) throw new InfeasiblePlacementError(`block ${gap} is not hosted by any server`);
  const { lIn, lOut } = plannedLengths(snapshot);
  const sum: TimeBreakdown = { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 };
  for (const [clientId, w] of clientWeights(snapshot)) {
    if (w === 0) continue;
    const chain = shortestChain(assignments, L, requestLinkCostMs(snapshot, clientId, lIn, lOut));
    if (chain === null) throw new InfeasiblePlacementError(`client '${clientId}' has no chain through all ${L} blocks`);
    const t = requestTime(snapshot, clientId, chain, lIn, lOut);
    sum.computeMs += w * t.computeMs;
    sum.transferMs += w * t.transferMs;
    sum.waitingMs += w * t.waitingMs;
    sum.totalMs += w * t.totalMs;
  }
  return { perTokenMs: perTokenMs(sum, lOut), breakdown: sum };
}

/** Milliseconds since an arbitrary origin (performance.now where it exists). */
export function nowMs(): number {
  return globalThis.performance.now();
}

/** Fisher–Yates shuffle of a copy with the given PRNG. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

/** Wraps a synchronous policy body so that its errors reject the returned promise instead of throwing. */
export function syncPolicy(body: (snapshot: SwarmSnapshot) => PlacementResult): PlacementPolicy {
  return (snapshot) => {
    try {
      return Promise.resolve(body(snapshot));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The start s whose window values[s..s+width−1], sorted ascending, is lexicographically smallest
 * (ties → the lowest s); -1 when the window does not fit. A sliding sorted window: O(n · width).
 */
export function lexSmallestWindow(values: ArrayLike<number>, width: number): number {
  if (width < 1 || width > values.length) return -1;
  const window = Array.from({ length: width }, (_, i) => values[i] ?? 0).sort((a, b) => a - b);
  let best = 0;
  let bestKey = [...window];
  for (let s = 1; s + width <= values.length; s++) {
    window.splice(lowerBound(window, values[s - 1] ?? 0), 1);
    const add = values[s + width - 1] ?? 0;
    window.splice(lowerBound(window, add), 0, add);
    if (lexLess(window, bestKey)) {
      best = s;
      bestKey = [...window];
    }
  }
  return best;
}
