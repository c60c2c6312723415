// Reconcile with a move budget: turns a policy's fresh placement into as few weight reloads as possible (keep spans, place newcomers, fill gaps).
import type { AssignmentReason } from '../api/index.ts';
import { sameSpan, type BlockSpan } from '../swarm/index.ts';

/** One volunteer as the reconciler sees it. */
export interface PeerPlacementInput {
  peerId: string;
  /** Span it holds or is loading now; null when it holds nothing. */
  current: BlockSpan | null;
  /** True when it has never been given an assignment (it just joined). */
  isNew: boolean;
  /** Span the placement policy proposes for it; undefined when the policy failed (infeasible). */
  proposed: BlockSpan | null | undefined;
  /** Most blocks it can hold while keeping cache for at least one session. */
  maxBlocks: number;
  /** Routes now leased through it (a move drains and ends them, so idle volunteers move first); default 0. */
  activeSessions?: number;
}

/** A span to push to one volunteer. */
export interface SpanChange {
  peerId: string;
  span: BlockSpan | null;
  reason: AssignmentReason;
}

/** What the reconciler decided. */
export interface ReconcileResult {
  /** Final span of every volunteer. */
  spans: Map<string, BlockSpan | null>;
  /** Volunteers whose span changes (newcomers always appear, so they learn their assignment). */
  changes: SpanChange[];
  /** Volunteers that already held blocks and must reload (counted against `maxMoves`). */
  moved: string[];
  /** Blocks still uncovered after the allowed moves. */
  uncovered: number[];
}

function coverage(spans: Map<string, BlockSpan | null>, numBlocks: number): Int32Array {
  const count = new Int32Array(numBlocks);
  for (const s of spans.values()) {
    if (s === null) continue;
    for (let b = Math.max(0, s.start); b < Math.min(numBlocks, s.end); b++) count[b] = (count[b] ?? 0) + 1;
  }
  return count;
}

function uncoveredBlocks(spans: Map<string, BlockSpan | null>, numBlocks: number): number[] {
  const count = coverage(spans, numBlocks);
  const out: number[] = [];
  count.forEach((c, b) => {
    if (c === 0) out.push(b);
  });
  return out;
}

function covers(span: BlockSpan | null | undefined, block: number): boolean {
  return span !== null && span !== undefined && span.start <= block && block < span.end;
}

/** The window of `maxBlocks` blocks (at most L) that starts at `first`, shifted back to end by L. */
function windowAt(first: number, maxBlocks: number, numBlocks: number): BlockSpan {
  const m = Math.min(maxBlocks, numBlocks);
  const start = Math.max(0, Math.min(first, numBlocks - m));
  return { start, end: start + m };
}

/**
 * Reconciles the policy's proposal with what volunteers hold, so that a join or leave reloads as
 * little as possible (a move reloads weights and kills the volunteer's sessions):
 * 1. volunteers that hold a span keep it; newcomers take the span the policy proposes;
 * 2. while blocks are uncovered, volunteers that hold nothing (and newcomers whose proposal adds
 *    nothing to the gaps) are pointed at the first uncovered block — no reload;
 * 3. then at most `maxMoves` volunteers whose every block is also held by someone else move to
 *    a gap (those with the fewest active sessions first, since moving ends them): their proposed
 *    span when it covers the gap, else a window starting at the gap.
 * No other rebalancing happens: existing spans are never moved while the model is covered.
 */
export function reconcilePlacement(peers: readonly PeerPlacementInput[], numBlocks: number, maxMoves: number): ReconcileResult {
  const spans = new Map<string, BlockSpan | null>();
  for (const p of peers) spans.set(p.peerId, p.isNew ? (p.proposed ?? null) : p.current);
  const byId = new Map(peers.map((p) => [p.peerId, p]));

  // Step 2: fill gaps with volunteers that would load nothing useful otherwise.
  let gaps = uncoveredBlocks(spans, numBlocks);
  const fillers = peers
    .filter((p) => p.maxBlocks > 0 && (spans.get(p.peerId) === null || (p.isNew && !gaps.some((b) => covers(spans.get(p.peerId), b)))))
    .sort((a, b) => Number(spans.get(a.peerId) !== null) - Number(spans.get(b.peerId) !== null) || b.maxBlocks - a.maxBlocks || a.peerId.localeCompare(b.peerId));
  for (const p of fillers) {
    const first = gaps[0];
    if (first === undefined) break;
    spans.set(p.peerId, windowAt(first, p.maxBlocks, numBlocks));
    gaps = uncoveredBlocks(spans, numBlocks);
  }

  // Step 3: move redundant holders, at most maxMoves of them.
  const moved: string[] = [];
  while (gaps.length > 0 && moved.length < maxMoves) {
    const first = gaps[0] as number;
    const count = coverage(spans, numBlocks);
    const redundant = peers.filter((p) => {
      const s = spans.get(p.peerId);
      if (p.isNew || s === null || s === undefined || moved.includes(p.peerId) || p.maxBlocks <= 0) return false;
      for (let b = s.start; b < Math.min(numBlocks, s.end); b++) if ((count[b] ?? 0) < 2) return false;
      return true;
    });
    if (redundant.length === 0) break;
    redundant.sort(
      (a, b) =>
        (a.activeSessions ?? 0) - (b.activeSessions ?? 0) ||
        Number(covers(b.proposed, first)) - Number(covers(a.proposed, first)) ||
        b.maxBlocks - a.maxBlocks ||
        a.peerId.localeCompare(b.peerId),
    );
    const p = redundant[0] as PeerPlacementInput;
    spans.set(p.peerId, covers(p.proposed, first) && p.proposed !== undefined ? p.proposed : windowAt(first, p.maxBlocks, numBlocks));
    moved.push(p.peerId);
    gaps = uncoveredBlocks(spans, numBlocks);
  }

  const changes: SpanChange[] = [];
  for (const [peerId, span] of spans) {
    const p = byId.get(peerId);
    if (p === undefined) continue;
    if (p.isNew) changes.push({ peerId, span, reason: span === null ? 'idle' : 'join' });
    else if (!sameSpan(p.current, span)) changes.push({ peerId, span, reason: span === null ? 'idle' : 'cover-gap' });
  }
  return { spans, changes, moved, uncovered: gaps };
}

/** Blocks no span covers. */
export function uncoveredBy(spans: Iterable<BlockSpan | null>, numBlocks: number): number[] {
  const m = new Map<string, BlockSpan | null>();
  let i = 0;
  for (const s of spans) m.set(String(i++), s);
  return uncoveredBlocks(m, numBlocks);
}
