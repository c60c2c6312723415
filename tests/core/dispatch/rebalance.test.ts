// Churn-aware rebalancing: a covering volunteer moves only when the predicted gain over its stay outweighs the reload.
import { describe, expect, it } from 'vitest';
import type { BlockSpan, ServerSpec, SwarmSnapshot } from '../../../core/swarm/index.ts';
import { defaultLoadBytesPerS, predictedResponseMs, rebalanceMoves, type RebalanceInput } from '../../../core/dispatch/index.ts';

// 4 blocks of 1 GB, 0.1 GB of cache per session and block. 'a' and 'c' are fast, 'b' slow.
// 'a' holds the whole model with room for 2 sessions; 'c' held [0, 2) next to 'd' on [2, 4),
// and 'd' has just left: c's half-chain now runs on through slow 'b' (the gap the churn left).
const gb = 1e9;
const server = (id: string, memoryBytes: number, decodeMsPerBlock: number): ServerSpec => ({ id, memoryBytes, decodeMsPerBlock, prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 } });
const snapshot: SwarmSnapshot = {
  model: { numBlocks: 4, blockBytes: gb, cacheBytesPerBlock: 0.1 * gb },
  servers: [server('a', 4.8 * gb, 10), server('b', 3 * gb, 60), server('c', 4.8 * gb, 10)],
  clients: [{ id: 'u' }],
  network: { clientServerRttMs: { u: { a: 40, b: 40, c: 40 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
  workload: { arrivalRatePerS: 0.3, meanInputTokens: 64, meanOutputTokens: 64 },
};
const spans = new Map<string, BlockSpan | null>([
  ['a', { start: 0, end: 4 }],
  ['b', { start: 2, end: 4 }],
  ['c', { start: 0, end: 2 }],
]);
// The policy proposes 'c' on the whole model (a second one-hop chain), the others as they are.
const proposed = new Map<string, BlockSpan | null>([...spans, ['c', { start: 0, end: 4 }]]);
const minute = 60_000;
const input = (over: Partial<RebalanceInput> = {}): RebalanceInput => ({ snapshot, spans, proposed, activeSessions: () => 0, horizonMs: 20 * minute, maxMoves: 1, ...over });

describe('rebalanceMoves', () => {
  it('moves the volunteer when the gain over its expected stay outweighs the reload', () => {
    const before = predictedResponseMs(snapshot, spans);
    const after = predictedResponseMs(snapshot, new Map(spans).set('c', { start: 0, end: 4 }));
    const without = predictedResponseMs(snapshot, new Map(spans).set('c', null));
    // The move helps, and 'c' is not idle now (its half-chain through 'b' carries load).
    expect(after).toBeLessThan(before);
    expect(without).toBeGreaterThan(before);
    const moves = rebalanceMoves(input());
    expect(moves.map((m) => [m.peerId, m.span])).toEqual([['c', { start: 0, end: 4 }]]);
    const m = moves[0];
    expect(m !== undefined && m.gainMs > m.costMs).toBe(true);
    // Reload: 4 blocks of 1 GB at the default speed.
    expect(m?.reloadMs).toBeCloseTo((4 * gb * 1000) / defaultLoadBytesPerS, 6);
  });

  it('makes no move when the gain is below the cost: a short stay, a slow load, or sessions it would end', () => {
    expect(rebalanceMoves(input({ horizonMs: 10_000 }))).toEqual([]);
    expect(rebalanceMoves(input({ loadBytesPerS: () => 1e6 }))).toEqual([]);
    expect(rebalanceMoves(input({ activeSessions: (id) => (id === 'c' ? 100_000 : 0) }))).toEqual([]);
  });

  it('keeps to the move budget and never moves what reconcile already moved, nor a volunteer already on its proposal', () => {
    expect(rebalanceMoves(input({ maxMoves: 0 }))).toEqual([]);
    expect(rebalanceMoves(input({ exclude: new Set(['c']) }))).toEqual([]);
    expect(rebalanceMoves(input({ proposed: spans }))).toEqual([]);
    expect(rebalanceMoves(input({ maxMoves: 5 })).length).toBeLessThanOrEqual(1);
  });
});
