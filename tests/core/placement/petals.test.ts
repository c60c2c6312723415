// PETALS' placement: lexicographic window choice, the block count rule, joins and the rebalancing test.
import { describe, expect, it } from 'vitest';
import {
  chooseBestStart,
  firstUncoveredBlock,
  petals,
  petalsBlockCount,
  petalsCacheReservePerBlock,
  petalsShouldMove,
  petalsThroughput,
} from '../../../core/placement/index.ts';
import { mulberry32 } from '../../../core/random/index.ts';
import { bloomClusteredTestbed } from './fixtures.ts';

describe('chooseBestStart (PETALS _choose_best_start)', () => {
  it('picks the window whose sorted throughputs are lexicographically smallest', () => {
    // windows of 2: [1,5] [1,1] [1,3] [0,3] [0,2] → [0,2] at 4
    expect(chooseBestStart([5, 1, 1, 3, 0, 2], 2)).toBe(4);
    // equal minima: the second-smallest decides: [1,9] [1,9] [1,2] → 2
    expect(chooseBestStart([1, 9, 1, 2], 2)).toBe(2);
  });
  it('breaks ties by the lowest start', () => {
    expect(chooseBestStart([0, 0, 0, 0], 2)).toBe(0);
    expect(chooseBestStart([3, 1, 2, 1, 3], 2)).toBe(1); // [1,3] [1,2] [1,2] [1,3]
  });
  it('a full-length window starts at 0', () => {
    expect(chooseBestStart([4, 2, 7], 3)).toBe(0);
  });
});

describe('block count rule', () => {
  const model = bloomClusteredTestbed().model;
  it('m = min(L, ⌊(M − 2 GiB · hidden/14336) / (s_m + 2 · kv_dim · 4096 · 2)⌋) by hand for BLOOM-176B', () => {
    const reserve = 2 * 14336 * 4096 * 2; // 234,881,024 bytes: T_res = 4096 tokens without GQA
    expect(petalsCacheReservePerBlock(model)).toBe(reserve);
    const autograd = 2 * 1024 ** 3; // hidden = 14336 ⇒ exactly 2 GiB
    // MIG 1g.10gb, M = 8.2 GB: (8.2e9 − 2147483648) / (1.32e9 + 234881024) = 3.89 → 3
    expect(petalsBlockCount(model, 8.2e9)).toBe(Math.floor((8.2e9 - autograd) / (1.32e9 + reserve)));
    expect(petalsBlockCount(model, 8.2e9)).toBe(3);
    // A100-80GB, M = 79 GB: 49.4 → 49
    expect(petalsBlockCount(model, 79e9)).toBe(49);
    // never more than L, never negative
    expect(petalsBlockCount(model, 1e15)).toBe(70);
    expect(petalsBlockCount(model, 1e9)).toBe(0);
  });
  it('GQA models reserve 16384 tokens of kv_dim; bytes per value default to 2', () => {
    const gqa = { numBlocks: 32, blockBytes: 1e8, cacheBytesPerBlock: 1e6, hiddenSize: 4096, kvDim: 1024 };
    expect(petalsCacheReservePerBlock(gqa)).toBe(2 * 1024 * 16384 * 2);
    expect(petalsCacheReservePerBlock({ ...gqa, cacheBytesPerValue: 4 })).toBe(2 * 1024 * 16384 * 4);
  });
  it('announced throughput = forward_rps / ((m + 1) / 2), capped by network_rps', () => {
    const server = { id: 'x', memoryBytes: 1, decodeMsPerBlock: 1, prefillMsPerBlock: { perTokenMs: 0.0743, fixedMs: 32.99 } };
    const forwardRps = 1024_000 / (0.0743 * 1024 + 32.99);
    expect(petalsThroughput(server, 49)).toBeCloseTo(forwardRps / 25, 9);
    expect(petalsThroughput({ ...server, networkRps: 5 }, 49)).toBe(5);
  });
});

describe('PETALS joins', () => {
  it('equal servers fill the weakest windows in turn: 0, then 2, then (tie) 0', async () => {
    const snap = bloomClusteredTestbed();
    snap.model = { numBlocks: 4, blockBytes: 1000, cacheBytesPerBlock: 10 }; // no hidden size: no autograd; reserve = s_c
    snap.servers = ['a', 'b', 'c'].map((id) => ({ id, memoryBytes: 2100, decodeMsPerBlock: 1, prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 } }));
    snap.network.clientServerRttMs = Object.fromEntries(snap.clients.map((c) => [c.id, { a: 5, b: 5, c: 5 }]));
    const r = await petals({ seed: 3 })(snap);
    const starts = r.assignments.map((a) => a.span?.start).sort();
    expect(starts).toEqual([0, 0, 2]);
    expect(r.assignments.every((a) => a.span !== null && a.span.end - a.span.start === 2)).toBe(true);
  });
  it('covers every block of the BPRR testbed, gives MIGs 3 blocks, and is deterministic for a seed', async () => {
    const snap = bloomClusteredTestbed();
    const a = await petals({ seed: 7 })(snap);
    const b = await petals({ seed: 7 })(snap);
    expect(a.assignments).toEqual(b.assignments);
    expect(firstUncoveredBlock(a.assignments, 70)).toBe(-1);
    expect(a.assignments.filter((x) => x.serverId.startsWith('mig')).every((x) => x.span !== null && x.span.end - x.span.start === 3)).toBe(true);
    expect(a.prediction.perTokenMs).toBeGreaterThan(0);
  });
  it('with rebalancing still covers every block', async () => {
    const snap = bloomClusteredTestbed();
    for (let seed = 0; seed < 5; seed++) {
      const r = await petals({ seed, rebalance: true })(snap);
      expect(firstUncoveredBlock(r.assignments, 70)).toBe(-1);
    }
  });
  it('is infeasible (code "infeasible") when no server can hold a block', async () => {
    const snap = bloomClusteredTestbed();
    snap.servers = snap.servers.map((s) => ({ ...s, memoryBytes: 3e9 }));
    await expect(petals()(snap)).rejects.toMatchObject({ code: 'infeasible' });
  });
  it('is infeasible naming the block when the servers cannot cover L', async () => {
    const snap = bloomClusteredTestbed();
    snap.servers = snap.servers.filter((s) => s.id.startsWith('mig'));
    await expect(petals()(snap)).rejects.toMatchObject({ code: 'infeasible', reason: expect.stringMatching(/^block \d+ is not hosted/) as unknown });
  });
});

describe('rebalancing test (should_choose_other_blocks)', () => {
  const span = (start: number, length: number, throughput: number) => ({ start, length, throughput });
  it('moves a server when the minimum block throughput would improve by more than 1/0.75', () => {
    // a and b both on block 0, c (slow) on both blocks: T = [21, 1]; a moving to block 1 gives min 11.
    const spans = new Map([['a', span(0, 1, 10)], ['b', span(0, 1, 10)], ['c', span(0, 2, 1)]]);
    expect(petalsShouldMove(spans, 'a', 2, mulberry32(1))).toBe(true);
  });
  it('stays when the swarm is balanced', () => {
    const spans = new Map([['a', span(0, 1, 10)], ['b', span(1, 1, 10)]]);
    expect(petalsShouldMove(spans, 'a', 2, mulberry32(1))).toBe(false);
  });
  it('never moves when leaving would open a gap', () => {
    // a alone serves block 1.
    const spans = new Map([['a', span(1, 1, 1)], ['b', span(0, 1, 100)], ['c', span(0, 1, 100)]]);
    expect(petalsShouldMove(spans, 'a', 2, mulberry32(1))).toBe(false);
  });
  it('stays when the improvement is below 1/0.75', () => {
    // T = [10, 8, 8]: the best any move gives is min 9 (8 → 9 is only ×1.125).
    const spans = new Map([['a', span(0, 1, 2)], ['b', span(0, 3, 8)]]);
    expect(petalsShouldMove(spans, 'a', 3, mulberry32(1))).toBe(false);
  });
});

describe('petalsCacheSlots', () => {
  it('counts only the fixed T_res pool, not the memory left after the weights', async () => {
    const { petalsCacheSlots, petalsCacheReservePerBlock } = await import('../../../core/placement/index.ts');
    const model = { numBlocks: 10, blockBytes: 1e9, cacheBytesPerBlock: 1e6, hiddenSize: 1024, kvDim: 1024, cacheBytesPerValue: 2 };
    const reserve = petalsCacheReservePerBlock(model); // 2 · 1024 · 4096 · 2 = 16 MiB per block
    expect(reserve).toBe(2 * 1024 * 4096 * 2);
    // 3 blocks: pool = 3 · 16 MiB = 50.3 MB → 50 slots of 1 MB, even though memory would allow 1000.
    expect(petalsCacheSlots(model, 3, 1000)).toBe(Math.floor((3 * reserve) / 1e6));
    // Memory binds first when it is smaller than the pool.
    expect(petalsCacheSlots(model, 3, 7)).toBe(7);
    expect(petalsCacheSlots(model, 0, 1000)).toBe(0);
  });
});
