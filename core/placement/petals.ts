// PETALS' block placement as its code does it (algorithms.md §2): block count rule, announced
// throughput, servers joining one by one onto the weakest window, optional rebalancing.
import { BouquetError } from '../errors/index.ts';
import type { SwarmSnapshot } from '../swarm/index.ts';
import { prefillMsPerBlock } from '../perf/index.ts';
import { checkSnapshot, lexSmallestWindow, makeAssignment, nowMs, predictPlacement, shuffled, syncPolicy } from './common.ts';
import { mulberry32 } from '../random/index.ts';
import type { PlacementOptions, PlacementPolicyFactory, ServerAssignment } from './types.ts';
import { InfeasiblePlacementError } from './types.ts';

const GiB = 1024 ** 3;
/** PETALS' balance_quality: a server moves only if the min block throughput improves by more than 1/0.75. */
export const petalsBalanceQuality = 0.75;
const eps = 1e-3;

/**
 * PETALS' memory reserve per block for attention caches, bytes: 2 · kv_dim · T_res · bytes per value,
 * with T_res = 4096 tokens (16384 for GQA, i.e. kvDim < hiddenSize). kvDim defaults to hiddenSize and
 * bytes per value to 2 (PETALS' fp16/bf16 cache); when the workload has neither kvDim nor hiddenSize
 * the reserve falls back to s_c (one max-length session per block).
 */
export function petalsCacheReservePerBlock(model: SwarmSnapshot['model']): number {
  const kvDim = model.kvDim ?? model.hiddenSize;
  if (kvDim === undefined) return model.cacheBytesPerBlock;
  const gqa = model.hiddenSize !== undefined && kvDim < model.hiddenSize;
  const reserveTokens = gqa ? 16384 : 4096;
  return 2 * kvDim * reserveTokens * (model.cacheBytesPerValue ?? 2);
}

/**
 * Cache slots of a PETALS server: it allocates only its fixed attention-cache pool, m_j · cache_per_block
 * bytes (T_res tokens per block), never the rest of its memory — so n_j = ⌊m_j · cache_per_block / s_c⌋,
 * capped by what memory allows (`memorySlots`, the generic n_j).
 */
export function petalsCacheSlots(model: SwarmSnapshot['model'], blockCount: number, memorySlots: number): number {
  if (blockCount === 0) return 0;
  const poolSlots = Math.floor((blockCount * petalsCacheReservePerBlock(model)) / model.cacheBytesPerBlock);
  return Math.min(memorySlots, poolSlots);
}

/**
 * PETALS' block count: m_j = min(L, ⌊(M_j − autograd) / (s_m + cache_per_block)⌋) with
 * autograd = 2 GiB · hidden / 14336 bytes (0 when hiddenSize is unknown). 0 means it cannot serve.
 */
export function petalsBlockCount(model: SwarmSnapshot['model'], memoryBytes: number): number {
  const autograd = (2 * GiB * (model.hiddenSize ?? 0)) / 14336;
  const m = Math.floor((memoryBytes - autograd) / (model.blockBytes + petalsCacheReservePerBlock(model)));
  return Math.max(0, Math.min(model.numBlocks, m));
}

/**
 * The throughput a PETALS server announces, tokens/s: min(forward_rps / ((m + 1) / 2), network_rps),
 * forward_rps = 1024 / τᴵ_j(1024) (prefill tokens/s of one block for 1024 tokens), network_rps = ∞
 * unless the scenario gives `networkRps`. The relay-only × 0.2 penalty is not modelled.
 */
export function petalsThroughput(server: SwarmSnapshot['servers'][number], blockCount: number): number {
  const forwardRps = (1000 * 1024) / prefillMsPerBlock(server, 1024);
  return Math.min(forwardRps / ((blockCount + 1) / 2), server.networkRps ?? Infinity);
}

/**
 * PETALS' `_choose_best_start`: the start s whose window throughputs[s..s+m−1], sorted ascending, is
 * lexicographically smallest (the window holding the weakest blocks); ties → the lowest s.
 */
export function chooseBestStart(throughputs: ArrayLike<number>, numBlocks: number): number {
  const best = lexSmallestWindow(throughputs, numBlocks);
  if (best < 0) throw new BouquetError('internal', `window of ${numBlocks} blocks does not fit in ${throughputs.length}`);
  return best;
}

interface Span {
  start: number;
  length: number;
  throughput: number;
}

function addSpan(t: Float64Array, s: Span, factor: number): void {
  for (let b = s.start; b < s.start + s.length; b++) t[b] = (t[b] ?? 0) + factor * s.throughput;
}

function minOf(t: Float64Array): number {
  let m = Infinity;
  for (const x of t) m = Math.min(m, x);
  return m;
}

/**
 * PETALS' `should_choose_other_blocks`: the server simulates leaving and every server greedily
 * re-choosing (in random order, until nobody moves); true iff the minimum block throughput would
 * improve by more than 1/balanceQuality and leaving would not open a gap.
 */
export function petalsShouldMove(spans: Map<string, Span>, self: string, numBlocks: number, random: () => number): boolean {
  const t = new Float64Array(numBlocks);
  for (const s of spans.values()) addSpan(t, s, 1);
  const initial = minOf(t);
  const sim = new Map([...spans].map(([k, v]) => [k, { ...v }]));
  const local = sim.get(self);
  if (local === undefined) return false;
  addSpan(t, local, -(1 + eps));
  if (initial > eps && minOf(t) <= 0) return false; // leaving would make the swarm disjoint
  const newStart = chooseBestStart(t, local.length);
  if (newStart === local.start) return false;
  addSpan(t, local, eps);
  local.start = newStart;
  addSpan(t, local, 1);
  let moved = true;
  let rounds = 0;
  while (moved && rounds++ < 100) {
    moved = false;
    for (const id of shuffled([...sim.keys()], random)) {
      const s = sim.get(id);
      if (s === undefined) continue;
      addSpan(t, s, -(1 + eps));
      const start = chooseBestStart(t, s.length);
      addSpan(t, s, eps);
      if (start !== s.start) {
        s.start = start;
        moved = true;
      }
      addSpan(t, s, 1);
    }
  }
  const after = minOf(t);
  if (after < initial || after < eps) return false;
  return initial / after < petalsBalanceQuality - eps;
}

/**
 * PETALS placement. Options: `seed` (join order and rebalancing shuffles; default 0), `rebalance`
 * (run rebalancing rounds after the joins until nobody moves, at most 10 rounds).
 */
export const petals: PlacementPolicyFactory = (options: PlacementOptions = {}) => syncPolicy((snapshot) => {
  const t0 = nowMs();
  checkSnapshot(snapshot);
  const L = snapshot.model.numBlocks;
  // mulberry32 (core/random): the only randomness policies may use.
  const random = mulberry32(options.seed ?? 0);
  const throughputs = new Float64Array(L);
  const spans = new Map<string, Span>();
  for (const server of shuffled(snapshot.servers, random)) {
    const m = petalsBlockCount(snapshot.model, server.memoryBytes);
    if (m < 1) continue; // PETALS refuses to start a server that cannot hold one block
    const span: Span = { start: chooseBestStart(throughputs, m), length: m, throughput: petalsThroughput(server, m) };
    addSpan(throughputs, span, 1);
    spans.set(server.id, span);
  }
  if (options.rebalance === true) {
    for (let round = 0; round < 10; round++) {
      let anyMoved = false;
      for (const id of shuffled([...spans.keys()], random)) {
        if (!petalsShouldMove(spans, id, L, random)) continue;
        const s = spans.get(id);
        if (s === undefined) continue;
        // The server leaves and rejoins: it picks the best start with its own throughput removed.
        addSpan(throughputs, s, -1);
        s.start = chooseBestStart(throughputs, s.length);
        addSpan(throughputs, s, 1);
        anyMoved = true;
      }
      if (!anyMoved) break;
    }
  }
  const assignments: ServerAssignment[] = snapshot.servers.map((server) => {
    const s = spans.get(server.id);
    const assignment = makeAssignment(snapshot, server, s === undefined ? null : { start: s.start, end: s.start + s.length });
    return { ...assignment, cacheSlots: petalsCacheSlots(snapshot.model, s?.length ?? 0, assignment.cacheSlots) };
  });
  if (spans.size === 0) {
    throw new InfeasiblePlacementError(
      `no server can hold one block under PETALS' rule (s_m + cache reserve = ${snapshot.model.blockBytes + petalsCacheReservePerBlock(snapshot.model)} bytes per block plus the autograd reserve)`,
    );
  }
  const prediction = predictPlacement(snapshot, assignments);
  return { policy: 'petals', assignments, prediction, runtimeMs: nowMs() - t0 };
});
