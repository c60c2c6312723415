// A volunteer's budget ⇄ the memory it registers (a tab's per backend, a Node process's): what placement may give a volunteer of budget N keeps its real peak within N.
import { describe, expect, it } from 'vitest';
import { placementMemoryBytes, registeredMemoryBytes, runtimeMemoryCosts, budgetBytesFor } from '../../../core/model/index.ts';
import { maxBlocksFor } from '../../../core/placement/index.ts';

const MiB = 2 ** 20;
const model = { numBlocks: 4, blockBytes: 49 * MiB, cacheBytesPerBlock: 0.5 * MiB };

describe('tab memory budget', () => {
  it('registers what is left after the runtime\'s fixed part, divided by its measured cost per weight byte', () => {
    for (const backend of ['wasm', 'webgpu', 'node'] as const) {
      const c = runtimeMemoryCosts[backend];
      expect(c.bytesPerWeightByte).toBeGreaterThan(1);
      const budget = 1024 * MiB;
      const m = placementMemoryBytes(budget, backend);
      // Whatever placement fits into m, the tab's real cost fits into the budget.
      expect(c.fixedBytes + c.bytesPerWeightByte * m).toBeLessThanOrEqual(budget);
      expect(c.fixedBytes + c.bytesPerWeightByte * (m + 1)).toBeGreaterThan(budget);
    }
  });

  it('a budget below the runtime\'s fixed part holds nothing', () => {
    expect(placementMemoryBytes(runtimeMemoryCosts.wasm.fixedBytes, 'wasm')).toBe(0);
    expect(placementMemoryBytes(0, 'wasm')).toBe(0);
    // A page registering such a budget is refused with a coded error; a budget above it registers placementMemoryBytes.
    expect(() => registeredMemoryBytes(runtimeMemoryCosts.wasm.fixedBytes, 'wasm')).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    expect(registeredMemoryBytes(1024 * MiB, 'wasm')).toBe(placementMemoryBytes(1024 * MiB, 'wasm'));
    // The same for a Node process, with its own fixed part.
    expect(() => registeredMemoryBytes(runtimeMemoryCosts.node.fixedBytes, 'node')).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    expect(registeredMemoryBytes(runtimeMemoryCosts.node.fixedBytes + MiB, 'node')).toBeGreaterThan(0);
  });

  it('budgetBytesFor is the budget that holds exactly what placement counts', () => {
    for (const k of [1, 2, 3]) {
      const need = k * model.blockBytes + 8 * model.cacheBytesPerBlock;
      const budget = budgetBytesFor(need, 'wasm');
      expect(placementMemoryBytes(budget, 'wasm')).toBeGreaterThanOrEqual(need);
      expect(maxBlocksFor(placementMemoryBytes(budget, 'wasm'), model)).toBe(k);
      // The nominal sizes alone would have let the same budget take every block: the old reading, several times too generous.
      if (k < 3) expect(maxBlocksFor(budget, model)).toBe(model.numBlocks);
    }
  });
});
