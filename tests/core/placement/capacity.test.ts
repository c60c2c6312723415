// The memory budget: no placement policy gives a volunteer more blocks than its budget holds next to one
// session's cache, and a swarm that cannot hold the model gets one coded message with the numbers.
import { describe, expect, it } from 'vitest';
import { capacityShortfall, maxBlocksFor, overBudget, placeBlocks, placementPolicies, swarmCapacity } from '../../../core/placement/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';
import { randomInstance } from './fixtures.ts';

describe('volunteer memory budget', () => {
  it('every policy leaves room for a cache slot next to every assignment\'s weights on 60 random swarms (tight and loose budgets, long caches)', async () => {
    let placed = 0;
    for (let seed = 1; seed <= 60; seed++) {
      // cacheRatio up to 0.9: a long session's cache rivals a block, where a fixed-reserve rule (PETALS') could overshoot.
      const snap = randomInstance(seed, { servers: 2 + (seed % 5), blocks: 4 + (seed % 5), memoryBlocks: [1.2, 4.5], cacheRatio: [0.05, 0.3, 0.9][seed % 3], concurrentRequests: 1 + (seed % 2) });
      const memory = new Map(snap.servers.map((s) => [s.id, s.memoryBytes]));
      for (const name of Object.keys(placementPolicies)) {
        if (name === 'milp' && snap.servers.length * snap.model.numBlocks > 12) continue; // the exact MILP only solves tiny instances in test time
        const r = await placeBlocks(name, snap, { seed, timeLimitMs: 500 }).catch((e: unknown) => {
          if (isBouquetError(e, 'infeasible') || isBouquetError(e, 'no-solution')) return null;
          throw e;
        });
        if (r === null) continue;
        placed++;
        expect(overBudget(snap.model, (id) => memory.get(id) ?? 0, r.assignments), `${name}, seed ${seed}`).toEqual([]);
      }
    }
    expect(placed).toBeGreaterThan(100);
  });

  it('overBudget names an assignment whose weights fill the budget', () => {
    const model = { numBlocks: 4, blockBytes: 100, cacheBytesPerBlock: 10 };
    const a = [{ serverId: 'a', span: { start: 0, end: 2 }, cacheSlots: 1 }, { serverId: 'b', span: { start: 2, end: 4 }, cacheSlots: 0 }];
    expect(overBudget(model, (id) => (id === 'a' ? 210 : 209), a).map((x) => x.serverId)).toEqual(['b']);
  });

  it('a swarm whose budgets hold fewer than L blocks gets infeasible with the blocks it can hold; enough budget gets null', () => {
    const model = { numBlocks: 8, blockBytes: 50 << 20, cacheBytesPerBlock: 4 << 20 };
    expect(maxBlocksFor(2 * (54 << 20), model)).toBe(2);
    expect(swarmCapacity(model, [2 * (54 << 20), 2 * (54 << 20), 3 * (54 << 20)]).holdableBlocks).toBe(7);
    const e = capacityShortfall(model, [2 * (54 << 20), 2 * (54 << 20), 3 * (54 << 20)]);
    expect(e?.code).toBe('infeasible');
    expect(e?.data).toMatchObject({ holdableBlocks: 7, numBlocks: 8, minBudgetBytes: 54 << 20 });
    expect(capacityShortfall(model, [4 * (54 << 20), 4 * (54 << 20)])).toBeNull();
    // No budget holds one block: no number of such volunteers helps.
    expect(capacityShortfall(model, Array(100).fill(53 << 20))?.data).toMatchObject({ holdableBlocks: 0 });
  });
});
