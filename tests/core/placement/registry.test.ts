// The policy registry: every policy is a pure, deterministic function of the snapshot whose result
// carries per-server cache slots and a prediction that the performance model reproduces.
import { describe, expect, it } from 'vitest';
import { shortestChain } from '../../../core/chains/index.ts';
import { cacheSlots, requestLinkCostMs, requestTime } from '../../../core/perf/index.ts';
import { petalsCacheSlots, placeBlocks, placementPolicies, placementPolicyDescriptions, UnknownPolicyError } from '../../../core/placement/index.ts';
import { randomInstance } from './fixtures.ts';

describe('placementPolicies', () => {
  it('registers petals, bprr, gbp-cr, milp and bouquet, each with a description', () => {
    expect(Object.keys(placementPolicies).sort()).toEqual(['bouquet', 'bprr', 'gbp-cr', 'milp', 'petals']);
    expect(Object.keys(placementPolicyDescriptions).sort()).toEqual(['bouquet', 'bprr', 'gbp-cr', 'milp', 'petals']);
  });

  it('every policy: one assignment per server with n_j, a prediction the model reproduces, same result twice', async () => {
    const snap = randomInstance(42, { servers: 4, clients: 2, blocks: 4, memoryBlocks: [2.5, 5], cacheRatio: 0.2, concurrentRequests: 2 });
    for (const name of Object.keys(placementPolicies)) {
      const options = { seed: 9, timeLimitMs: 20_000 };
      const before = JSON.stringify(snap);
      const a = await placeBlocks(name, snap, options);
      const b = await placeBlocks(name, snap, options);
      expect(JSON.stringify(snap)).toBe(before); // pure: the snapshot is not touched
      expect(a.policy).toBe(name);
      expect(a.assignments).toEqual(b.assignments);
      expect(a.assignments.map((x) => x.serverId)).toEqual(snap.servers.map((s) => s.id));
      for (const x of a.assignments) {
        const server = snap.servers.find((s) => s.id === x.serverId);
        const m = x.span === null ? 0 : x.span.end - x.span.start;
        const memorySlots = cacheSlots(server?.memoryBytes ?? 0, m, snap.model.blockBytes, snap.model.cacheBytesPerBlock);
        // PETALS serves sessions only from its fixed T_res cache pool; every other policy uses all memory left.
        expect(x.cacheSlots).toBe(name === 'petals' ? petalsCacheSlots(snap.model, m, memorySlots) : memorySlots);
      }
      // The prediction: each client's shortest chain with no waiting, averaged by the clients' weights.
      const weights = snap.clients.map((c) => c.weight ?? 1);
      const total = weights.reduce((x, y) => x + y, 0);
      let expected = 0;
      snap.clients.forEach((c, i) => {
        const chain = shortestChain(a.assignments, 4, requestLinkCostMs(snap, c.id, 20, 32));
        expect(chain).not.toBeNull();
        if (chain !== null) expected += ((weights[i] ?? 0) / total) * requestTime(snap, c.id, chain, 20, 32).totalMs;
      });
      expect(a.prediction.breakdown.totalMs).toBeCloseTo(expected, 6);
      expect(a.prediction.perTokenMs).toBeCloseTo(expected / 32, 6);
      expect(a.prediction.breakdown.waitingMs).toBe(0);
      expect(a.runtimeMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('placeBlocks rejects an unknown name with UnknownPolicyError', async () => {
    const snap = randomInstance(1, { servers: 2, blocks: 2, memoryBlocks: [3, 3], equalMemory: true });
    await expect(placeBlocks('toString', snap)).rejects.toBeInstanceOf(UnknownPolicyError);
    await expect(placeBlocks('petalz', snap)).rejects.toMatchObject({ code: 'unknown-policy', message: expect.stringContaining('petals') as unknown });
  });
});
