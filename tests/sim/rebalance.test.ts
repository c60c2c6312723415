// The simulator's churn-aware rebalancing (bouquet's `rebalance`): after a leave, a covering volunteer moves to its proposed span only when the predicted gain outweighs the reload.
import { describe, expect, it } from 'vitest';
import type { BlockSpan, ServerSpec, SwarmSnapshot } from '../../core/swarm/index.ts';
import type { PlacementResult } from '../../core/placement/index.ts';
import { makeAssignment } from '../../core/placement/index.ts';
import { jffcRouting } from '../../core/routing/index.ts';
import { seededRandom, simulateAsync, type SimConfig, type SimRequest } from '../../sim/index.ts';

// The swarm of tests/core/dispatch/rebalance.test.ts plus 'd', c's partner on [2, 4), which leaves
// at 1 s: c's half-chain then runs on through slow 'b'. The policy proposes c on the whole model.
const gb = 1e9;
const server = (id: string, memoryBytes: number, decodeMsPerBlock: number): ServerSpec => ({ id, memoryBytes, decodeMsPerBlock, prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 } });
const swarm: SwarmSnapshot = {
  model: { numBlocks: 4, blockBytes: gb, cacheBytesPerBlock: 0.1 * gb },
  servers: [server('a', 4.8 * gb, 10), server('b', 3 * gb, 60), server('c', 4.8 * gb, 10), server('d', 4.8 * gb, 10)],
  clients: [{ id: 'u' }],
  network: { clientServerRttMs: { u: { a: 40, b: 40, c: 40, d: 40 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
  workload: { arrivalRatePerS: 0.3, meanInputTokens: 64, meanOutputTokens: 64 },
};
const placed = (spans: Record<string, BlockSpan | null>): PlacementResult => ({
  policy: 'hand-made',
  assignments: swarm.servers.map((s) => makeAssignment(swarm, s, spans[s.id] ?? null)),
  prediction: { perTokenMs: 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } },
  runtimeMs: 0,
});
const initial = placed({ a: { start: 0, end: 4 }, b: { start: 2, end: 4 }, c: { start: 0, end: 2 }, d: { start: 2, end: 4 } });
const proposal = placed({ a: { start: 0, end: 4 }, b: { start: 2, end: 4 }, c: { start: 0, end: 4 } });
const requests: SimRequest[] = Array.from({ length: 20 }, (_, i) => ({ id: i, clientId: 'u', arrivalMs: 2000 + i * 3000, inputTokens: 64, outputTokens: 64 }));

/** The span 'c' holds at the end of a run. */
async function spanOfC(rebalance: boolean, meanOnlineMs: number): Promise<BlockSpan | null | undefined> {
  let last: BlockSpan | null | undefined;
  const cfg: SimConfig = {
    swarm,
    placement: initial,
    routing: jffcRouting(),
    requests,
    random: seededRandom(1),
    churn: { meanOnlineMs, meanOfflineMs: 1e12, serverIds: [] },
    churnTrace: [{ atMs: 1000, serverId: 'd', kind: 'server-leave' }],
    replacement: () => Promise.resolve(proposal),
    observe: (_e, view) => {
      last = view.placement.find((a) => a.serverId === 'c')?.span;
    },
    rebalance,
  };
  const r = await simulateAsync(cfg);
  expect(r.metrics.finished).toBe(requests.length);
  return last;
}

describe('simulator: churn-aware rebalancing', () => {
  it('moves c to its proposed span after d leaves, when its expected stay pays for the reload', async () => {
    expect(await spanOfC(true, 20 * 60_000)).toEqual({ start: 0, end: 4 });
  });

  it('keeps c where it is when its expected stay is too short to pay the reload, or without rebalancing', async () => {
    expect(await spanOfC(true, 10_000)).toEqual({ start: 0, end: 2 });
    expect(await spanOfC(false, 20 * 60_000)).toEqual({ start: 0, end: 2 });
  });
});
