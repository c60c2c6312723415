// A volunteer tab's real memory for its blocks, measured per backend, and the conversions between the budget a person gives a tab and the memory placement counts (weights and cache at their nominal sizes).
import { BouquetError } from '../errors/index.ts';

/** The backends a volunteer runs blocks on (core/api's Backend). */
export type RuntimeMemoryBackend = 'webgpu' | 'wasm';

/** What a block runtime really costs in memory: a fixed part, and a multiple of the weights (and cache) it holds. */
export interface RuntimeMemoryCost {
  /**
   * Peak resident bytes per nominal byte of weights or KV cache (blockBytes, cacheBytesPerBlock): onnxruntime's copy of the
   * weights in its wasm heap, their prepacked copy, the heap it keeps after loading, and the arrays and downloads alive
   * while a segment loads.
   */
  bytesPerWeightByte: number;
  /** Peak resident bytes of a tab's runtime before any weights: the page's own code, the worker, onnxruntime's wasm module. */
  fixedBytes: number;
  /** Where the figures come from. */
  measured: string;
}

const MiB = 2 ** 20;

/**
 * Measured, not assumed. wasm: Chromium 156 headless, onnxruntime-web 1.30 (its WebGPU build, as the block worker loads
 * it), 1 thread, prepacking on; the renderer's VmHWM above an idle renderer's (tests/e2e/split-model.test.ts on the 2-core
 * machine, 2026-12-01, docs/results.md "Tab memory"): a chat tab (a runtime with 2 MiB of client weights) peaked
 * 209–221 MiB above it, so 224 MiB is the fixed part; the volunteer tabs (98 MiB of weights in one 2-block segment, 4 MiB
 * of cache) 543–559 MiB, i.e. (559 − 224) / 102 ≈ 3.3 per nominal byte, taken as 3.75 for the ±5 % the same run moved
 * between runs. webgpu: not measured (no GPU here; SwiftShader runs on the CPU), so the wasm figures stand in for it:
 * weights uploaded to a GPU leave the tab's heap, so they overstate a tab's own memory.
 */
export const runtimeMemoryCosts: Readonly<Record<RuntimeMemoryBackend, RuntimeMemoryCost>> = {
  wasm: { bytesPerWeightByte: 3.75, fixedBytes: 224 * MiB, measured: 'Chromium 156, onnxruntime-web 1.30 wasm, split-model e2e test, 2026-12-01' },
  webgpu: { bytesPerWeightByte: 3.75, fixedBytes: 224 * MiB, measured: 'not measured (no GPU): the wasm figures' },
};

/**
 * M_j, the memory a volunteer registers (what placement divides into blocks and cache at their nominal sizes), for a
 * tab whose whole budget is `budgetBytes`: ⌊(budget − fixed) / bytesPerWeightByte⌋, 0 when the budget does not cover
 * the runtime's fixed part. So k·s_m + c·s_c ≤ M_j ⇒ fixed + F·(k·s_m + c·s_c) ≤ budget: the tab's peak stays within it.
 */
export function placementMemoryBytes(budgetBytes: number, backend: RuntimeMemoryBackend): number {
  const c = runtimeMemoryCosts[backend];
  return Math.max(0, Math.floor((budgetBytes - c.fixedBytes) / c.bytesPerWeightByte));
}

/**
 * M_j for a tab whose whole budget is `budgetBytes` (placementMemoryBytes), for a page to register. Throws BouquetError
 * 'bad-argument' when the budget does not even cover the runtime's fixed part (the tab could hold nothing).
 */
export function registeredMemoryBytes(budgetBytes: number, backend: RuntimeMemoryBackend): number {
  const m = placementMemoryBytes(budgetBytes, backend);
  if (m <= 0) {
    const mib = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
    throw new BouquetError('bad-argument', `a budget of ${mib(budgetBytes)} does not cover the runtime's own ${mib(runtimeMemoryCosts[backend].fixedBytes)}`);
  }
  return m;
}

/** The inverse: the whole budget, bytes, a tab needs for `placementBytes` of weights + cache at their nominal sizes. */
export function tabBudgetBytes(placementBytes: number, backend: RuntimeMemoryBackend): number {
  const c = runtimeMemoryCosts[backend];
  return Math.ceil(c.fixedBytes + c.bytesPerWeightByte * placementBytes);
}
