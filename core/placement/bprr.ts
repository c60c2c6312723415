// BPRR's CG-BP placement (algorithms.md §3): conservative block counts that keep cache for R
// sessions on every held block, greedy windows in order of amortized per-block time, Corollary 1
// feasibility, the Theorem-2 bound, and Algorithm 2's choice of R from the arrival rate.
import { BouquetError } from '../errors/index.ts';
import type { SwarmSnapshot } from '../swarm/index.ts';
import { perTokenRttMs } from '../perf/index.ts';
import { checkSnapshot, lexSmallestWindow, makeAssignment, nowMs, predictPlacement, syncPolicy } from './common.ts';
import type { PlacementOptions, PlacementPolicyFactory, PlacementResult, ServerAssignment } from './types.ts';
import { InfeasiblePlacementError } from './types.ts';

/** m_j = min(⌊M_j / (s_m + s_c · R)⌋, L): blocks a server can hold while caching R sessions on each. */
export function bprrBlockCount(memoryBytes: number, blockBytes: number, cacheBytesPerBlock: number, sessions: number, numBlocks: number): number {
  return Math.max(0, Math.min(numBlocks, Math.floor(memoryBytes / (blockBytes + cacheBytesPerBlock * sessions))));
}

/** cap_j = ⌊(M_j − s_m m_j) / (s_c m_j)⌋: sessions a server can cache on all of its m_j blocks at once. */
export function bprrSessionCapacity(memoryBytes: number, blockCount: number, blockBytes: number, cacheBytesPerBlock: number): number {
  if (blockCount <= 0) return 0;
  return Math.max(0, Math.floor((memoryBytes - blockBytes * blockCount) / (cacheBytesPerBlock * blockCount)));
}

/** One server as CG-BP sees it. */
export interface CgBpServer {
  serverId: string;
  /** m_j for the chosen R. */
  blockCount: number;
  /** cap_j ≥ R. */
  sessionCapacity: number;
  /** τ_j, ms. */
  decodeMsPerBlock: number;
  /** t*_j = max_c t_cj, ms. */
  farthestRttMs: number;
  /** t̃_j = τ_j + t*_j / m_j: amortized per-block time, ms. */
  amortizedMsPerBlock: number;
}

/** CG-BP's output before prediction: the spans and the servers in visiting order (increasing t̃). */
export interface CgBpPlacement {
  sessions: number;
  assignments: ServerAssignment[];
  /** Servers with m_j ≥ 1 in increasing t̃_j (ties → snapshot order). */
  order: CgBpServer[];
  /** Theorem 2: upper bound on the average decode time per token, ms. */
  perTokenBoundMs: number;
}

/**
 * Theorem 2: with servers in increasing t̃ and K the fewest of them whose blocks add up to L,
 * the average per-token decode time Σ_j (t_cj + τ_j k_j) under CG-BPRR is at most
 * Σ_{j≤K} t̃_j m_j − τ_K (Σ_{j≤K} m_j − L), ms. Infinity when the servers cannot cover L blocks.
 */
export function theorem2BoundMs(order: readonly CgBpServer[], numBlocks: number): number {
  let blocks = 0;
  let sum = 0;
  for (const s of order) {
    blocks += s.blockCount;
    sum += s.amortizedMsPerBlock * s.blockCount;
    if (blocks >= numBlocks) return sum - s.decodeMsPerBlock * (blocks - numBlocks);
  }
  return Infinity;
}

/**
 * CG-BP with R reserved sessions (algorithms.md §3 step 1–2). Throws InfeasiblePlacementError
 * per Corollary 1 (Σ_j min(⌊M_j/(s_m + s_c R)⌋, L) < L) or when a block ends below R sessions.
 */
export function cgBpPlacement(snapshot: SwarmSnapshot, sessions: number): CgBpPlacement {
  const R = sessions;
  if (!Number.isInteger(R) || R < 1) throw new BouquetError('bad-argument', `R must be a positive integer (got ${R})`);
  const { numBlocks: L, blockBytes: sm, cacheBytesPerBlock: sc } = snapshot.model;
  const servers: CgBpServer[] = [];
  let total = 0;
  snapshot.servers.forEach((s) => {
    const m = bprrBlockCount(s.memoryBytes, sm, sc, R, L);
    total += m;
    if (m < 1) return;
    let farthest = 0;
    for (const c of snapshot.clients) farthest = Math.max(farthest, perTokenRttMs(snapshot, c.id, s.id));
    servers.push({
      serverId: s.id,
      blockCount: m,
      sessionCapacity: bprrSessionCapacity(s.memoryBytes, m, sm, sc),
      decodeMsPerBlock: s.decodeMsPerBlock,
      farthestRttMs: farthest,
      amortizedMsPerBlock: s.decodeMsPerBlock + farthest / m,
    });
  });
  if (total < L) {
    throw new InfeasiblePlacementError(`servers can hold only ${total} of L = ${L} blocks with R = ${R} sessions reserved`);
  }
  const order = servers.map((s, i) => ({ s, i })).sort((a, b) => a.s.amortizedMsPerBlock - b.s.amortizedMsPerBlock || a.i - b.i).map((x) => x.s);
  const dummy = Math.max(...order.map((s) => s.amortizedMsPerBlock)) + 1; // t̃_0
  const capacity = new Float64Array(L); // C_b
  const pending = new Float64Array(L).fill(R * dummy); // T_b
  const spans = new Map<string, { start: number; end: number }>();
  for (const s of order) {
    const m = s.blockCount;
    let best = -1;
    const short = (b: number): boolean => (capacity[b] ?? 0) < R;
    if (capacity.some((_, b) => short(b))) {
      // Windows holding a block still short of R sessions: maximize the pending cost Σ T_b
      // (sliding sums; ties → the smallest start).
      let bestSum = -Infinity;
      let sum = 0;
      let shortCount = 0;
      for (let b = 0; b < m; b++) {
        sum += pending[b] ?? 0;
        if (short(b)) shortCount++;
      }
      for (let a = 0; a + m <= L; a++) {
        if (a > 0) {
          sum += (pending[a + m - 1] ?? 0) - (pending[a - 1] ?? 0);
          shortCount += (short(a + m - 1) ? 1 : 0) - (short(a - 1) ? 1 : 0);
        }
        // Relative slack: sliding sums drift by rounding, and exact ties must go to the smaller start.
        if (shortCount > 0 && (best < 0 || sum > bestSum + 1e-12 * Math.abs(bestSum))) {
          bestSum = sum;
          best = a;
        }
      }
    } else {
      // Every block has R sessions: PETALS-like balancing on the sorted capacity vectors.
      best = lexSmallestWindow(capacity, m);
    }
    for (let b = best; b < best + m; b++) {
      const c = capacity[b] ?? 0;
      pending[b] = (pending[b] ?? 0) - (dummy - s.amortizedMsPerBlock) * Math.min(Math.max(R - c, 0), s.sessionCapacity);
      capacity[b] = c + s.sessionCapacity;
    }
    spans.set(s.serverId, { start: best, end: best + m });
  }
  for (let b = 0; b < L; b++) {
    const c = capacity[b] ?? 0;
    if (c < R) throw new InfeasiblePlacementError(`block ${b} can host only ${c} of R = ${R} sessions`);
  }
  const assignments = snapshot.servers.map((s) => makeAssignment(snapshot, s, spans.get(s.id) ?? null));
  return { sessions: R, assignments, order, perTokenBoundMs: theorem2BoundMs(order, L) };
}

/**
 * R_max = ⌊(Σ_j M_j − s_m (L + J)) / (s_c (L + J))⌋ (Algorithm 2), J = number of servers.
 */
export function bprrMaxSessions(snapshot: SwarmSnapshot): number {
  const { numBlocks: L, blockBytes: sm, cacheBytesPerBlock: sc } = snapshot.model;
  const J = snapshot.servers.length;
  const memory = snapshot.servers.reduce((a, s) => a + s.memoryBytes, 0);
  return Math.floor((memory - sm * (L + J)) / (sc * (L + J)));
}

/**
 * The R BPRR reserves cache for: options.concurrentRequests, else workload.concurrentRequests, else
 * Algorithm 2's R = min(round(λT̄ + √(λT̄)), R_max) with T̄ (s) one request's time in an empty system
 * under CG-BPRR with R = 1 (mean + one standard deviation of the concurrent requests by Little's law).
 * Never below 1.
 */
export function bprrSessions(snapshot: SwarmSnapshot, options: PlacementOptions = {}): number {
  const given = options.concurrentRequests ?? snapshot.workload.concurrentRequests;
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 1) throw new BouquetError('bad-argument', `concurrentRequests must be a positive integer (got ${given})`);
    return given;
  }
  const single = cgBpPlacement(snapshot, 1);
  const meanS = predictPlacement(snapshot, single.assignments).breakdown.totalMs / 1000;
  const x = snapshot.workload.arrivalRatePerS * meanS;
  return Math.max(1, Math.min(Math.round(x + Math.sqrt(x)), bprrMaxSessions(snapshot)));
}

/**
 * BPRR placement (CG-BP). Options: `concurrentRequests` (R; else the workload's, else Algorithm 2).
 * Fills `perTokenBoundMs` (Theorem 2, decode time per token) and `reservedSessions` (R).
 */
export const bprr: PlacementPolicyFactory = (options: PlacementOptions = {}) =>
  syncPolicy((snapshot): PlacementResult => {
    const t0 = nowMs();
    checkSnapshot(snapshot);
    const R = bprrSessions(snapshot, options);
    const placed = cgBpPlacement(snapshot, R);
    const prediction = predictPlacement(snapshot, placed.assignments);
    prediction.perTokenBoundMs = placed.perTokenBoundMs;
    return { policy: 'bprr', assignments: placed.assignments, prediction, reservedSessions: R, runtimeMs: nowMs() - t0 };
  });
