// The memory budget of volunteers: how many blocks each can hold next to its cache, whether a swarm can hold the model at all, and the check that no assignment exceeds it.
import type { ServerAssignment } from './types.ts';
import { InfeasiblePlacementError } from './types.ts';

/** The model sizes a volunteer's capacity depends on, bytes. */
export interface BlockSizes {
  numBlocks: number;
  /** s_m: weights of one block, bytes. */
  blockBytes: number;
  /** s_c: one session's KV cache on one block, bytes. */
  cacheBytesPerBlock: number;
}

/** Most blocks a volunteer of `memoryBytes` can hold while keeping cache for at least one session (at most L). */
export function maxBlocksFor(memoryBytes: number, model: BlockSizes): number {
  return Math.max(0, Math.min(model.numBlocks, Math.floor(memoryBytes / (model.blockBytes + model.cacheBytesPerBlock))));
}

/** What a set of budgets can hold of the model. */
export interface SwarmCapacity {
  numBlocks: number;
  /** Σ_j maxBlocksFor(M_j) (capped at L each): the blocks the swarm can hold at once, one session each. */
  holdableBlocks: number;
  /** Volunteers that cannot hold even one block next to one session's cache. */
  tooSmall: number;
  /** Smallest budget that holds one block and one session, bytes: s_m + s_c. */
  minBudgetBytes: number;
}

/** How many blocks volunteers with budgets `memoryBytes` can hold, one session's cache next to each block. */
export function swarmCapacity(model: BlockSizes, memoryBytes: readonly number[]): SwarmCapacity {
  let holdableBlocks = 0;
  let tooSmall = 0;
  for (const m of memoryBytes) {
    const k = maxBlocksFor(m, model);
    holdableBlocks += k;
    if (k === 0) tooSmall++;
  }
  return { numBlocks: model.numBlocks, holdableBlocks, tooSmall, minBudgetBytes: model.blockBytes + model.cacheBytesPerBlock };
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * The error a swarm of these budgets gets when it cannot hold all L blocks even with one session per block
 * (null when it can): code `infeasible`, a message that says what is missing in MiB, and the numbers as data.
 */
export function capacityShortfall(model: BlockSizes, memoryBytes: readonly number[]): InfeasiblePlacementError | null {
  const c = swarmCapacity(model, memoryBytes);
  if (c.holdableBlocks >= c.numBlocks) return null;
  const n = memoryBytes.length;
  const each = `each block needs ${mb(model.blockBytes)} of weights + ${mb(model.cacheBytesPerBlock)} of cache for one session`;
  const small = c.tooSmall === n && n > 0
    ? `; no volunteer's budget holds even one block (≥ ${mb(c.minBudgetBytes)} each), so no number of such volunteers can serve it`
    : '';
  return new InfeasiblePlacementError(
    `the model does not fit: ${n} volunteer${n === 1 ? '' : 's'} can hold ${c.holdableBlocks} of its ${c.numBlocks} blocks (${each})${small}; add volunteers or give them more memory`,
    { holdableBlocks: c.holdableBlocks, numBlocks: c.numBlocks, minBudgetBytes: c.minBudgetBytes },
  );
}

/**
 * Assignments whose weights leave no room in the server's budget for even one cache slot (k·s_m + s_c > M_j):
 * [] when every assignment fits. (A policy may give a server more blocks than one session could span, as the
 * MILP does when its sessions use parts of the span; it may never give it weights its memory cannot cache for.)
 */
export function overBudget(model: BlockSizes, memoryOf: (serverId: string) => number, assignments: readonly ServerAssignment[]): ServerAssignment[] {
  return assignments.filter((a) => a.span !== null && (a.span.end - a.span.start) * model.blockBytes + model.cacheBytesPerBlock > memoryOf(a.serverId));
}
