// KV-cache budgeting in 16-token blocks: rounding, the one budget formula, admission and freeing, slots as the coordinator counts them.
import { describe, expect, it } from 'vitest';
import {
  KvCacheBudget, cacheBudgetBytes, cacheBytesPerSlot, cacheBytesPerTokenBlock, reserveTokensFor, tokenBlockTokens, tokenBlocksFor, tokenBlocksForSlots,
} from '../../../core/cache/index.ts';
import { cacheSlots } from '../../../core/perf/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';
import { cacheBytesPerBlock, shapeFromLlama2cHeader } from '../../../core/model/index.ts';

// stories260K: dim 64, 5 layers, 8 heads, 4 kv heads (head dim 8), 512 tokens.
const shape = shapeFromLlama2cHeader(new Int32Array([64, 172, 5, 8, 4, 512, 512]).buffer);

describe('token blocks', () => {
  it('rounds tokens up to whole 16-token blocks', () => {
    expect(tokenBlockTokens).toBe(16);
    expect([0, 1, 15, 16, 17, 32, 40, 512].map(tokenBlocksFor)).toEqual([0, 1, 1, 1, 2, 2, 3, 32]);
    expect(isBouquetError((() => { try { tokenBlocksFor(-1); } catch (e) { return e; } return null; })(), 'bad-input')).toBe(true);
    expect(isBouquetError((() => { try { tokenBlocksFor(1.5); } catch (e) { return e; } return null; })(), 'bad-input')).toBe(true);
  });

  it('sizes a token block as s_c for 16 tokens, and a runtime budget as whole slots of them (at least one)', () => {
    expect(cacheBytesPerTokenBlock(shape)).toBe(2 * 4 * 8 * 16 * 4);
    expect(cacheBytesPerTokenBlock(shape, 'fp16')).toBe(2 * 4 * 8 * 16 * 2);
    // A slot length that is a multiple of 16 costs exactly s_c; 40 tokens cost 3 token blocks (48 tokens).
    expect(cacheBudgetBytes(shape, 5, 512)).toBe(5 * cacheBytesPerBlock(shape, 512));
    expect(cacheBudgetBytes(shape, 2, 40)).toBe(2 * 3 * cacheBytesPerTokenBlock(shape));
    expect(cacheBudgetBytes(shape, 0, 32)).toBe(cacheBytesPerBlock(shape, 32));
    expect(tokenBlocksForSlots(4, 40)).toBe(12);
  });

  it('reserves a whole slot by default, and the declared length (capped at a slot) under declared', () => {
    expect(reserveTokensFor(10, 512)).toBe(512);
    expect(reserveTokensFor(512, 512, 'slot')).toBe(512);
    expect(reserveTokensFor(10, 512, 'declared')).toBe(10);
    expect(tokenBlocksFor(reserveTokensFor(17, 512, 'declared'))).toBe(2);
    expect(reserveTokensFor(10_000, 512, 'declared')).toBe(512);
  });
});

describe('KvCacheBudget', () => {
  it('admits while the token blocks fit, refuses without reserving, frees, and counts whole slots', () => {
    const b = KvCacheBudget.ofSlots(3, 40); // 9 token blocks, 3 a slot
    expect(b.usage()).toMatchObject({ totalTokenBlocks: 9, tokenBlocksPerSlot: 3, totalSlots: 3, freeSlots: 3, usedSlots: 0 });
    expect(b.admit('a', 2, 40)).toEqual({ ok: true, tokenBlocks: 6 });
    expect(b.admit('b', 2, 40)).toEqual({ ok: false, neededTokenBlocks: 6, freeTokenBlocks: 3 });
    expect(b.admit('c', 1, 33)).toEqual({ ok: true, tokenBlocks: 3 });
    expect(b.admit('d', 1, 1)).toEqual({ ok: false, neededTokenBlocks: 1, freeTokenBlocks: 0 });
    expect(b.usage()).toMatchObject({ usedTokenBlocks: 9, freeTokenBlocks: 0, freeSlots: 0, usedSlots: 3, sessions: 2 });
    expect(b.free('a')).toBe(true);
    expect(b.free('a')).toBe(false);
    expect(b.usage()).toMatchObject({ usedTokenBlocks: 3, freeSlots: 2, sessions: 1 });
    // Shorter reservations (the declared-length policy) fill the budget token block by token block.
    expect(b.admit('short', 3, 16)).toEqual({ ok: true, tokenBlocks: 3 });
    expect(b.usage()).toMatchObject({ usedTokenBlocks: 6, freeSlots: 1, usedSlots: 2 });
    expect(isBouquetError((() => { try { b.admit('c', 1, 1); } catch (e) { return e; } return null; })(), 'session-exists')).toBe(true);
  });

  it('budgets from bytes by whole token blocks, and grows to more slots keeping reservations', () => {
    const tb = cacheBytesPerTokenBlock(shape);
    const b = KvCacheBudget.ofBytes(10 * tb + tb - 1, tb, 32);
    expect(b.usage()).toMatchObject({ totalTokenBlocks: 10, totalSlots: 5 });
    b.admit('a', 5, 32);
    b.growToSlots(8);
    expect(b.usage()).toMatchObject({ totalTokenBlocks: 16, usedTokenBlocks: 10, freeSlots: 3 });
    b.growToSlots(2); // never shrinks under open sessions
    expect(b.usage().totalTokenBlocks).toBe(16);
  });
});

describe('one slot formula for the coordinator and the volunteer', () => {
  it("counts the coordinator's slots (core/perf cacheSlots with s_c = cacheBytesPerSlot) as the volunteer's token-block budget does", () => {
    const blockBytes = 100_000;
    for (const slotTokens of [16, 40, 100, 256, 257]) {
      const sc = cacheBytesPerSlot(shape, slotTokens);
      expect(sc).toBe(tokenBlocksFor(slotTokens) * cacheBytesPerTokenBlock(shape));
      for (const memoryBytes of [3 * blockBytes, 3 * blockBytes + 7 * sc - 1, 3 * blockBytes + 7 * sc, 3 * blockBytes + 50 * sc + 123]) {
        const granted = cacheSlots(memoryBytes, 3, blockBytes, sc);
        const free = memoryBytes - 3 * blockBytes;
        // The bytes a volunteer sets aside for the granted slots fit in what is left after the weights…
        if (granted > 0) expect(cacheBudgetBytes(shape, granted, slotTokens)).toBeLessThanOrEqual(free);
        // …and its token-block budget over those bytes holds exactly the granted slots.
        expect(KvCacheBudget.ofBytes(free, cacheBytesPerTokenBlock(shape), slotTokens).usage().totalSlots).toBe(granted);
      }
    }
  });
});
