// A volunteer's real memory for its blocks, measured per runtime (a tab's backend, or a Node process), and the conversions between the budget a person gives a volunteer and the memory placement counts (weights and cache at their nominal sizes).
import { BouquetError } from '../errors/index.ts';

/** The backends a volunteer tab runs blocks on (core/api's Backend). */
export type RuntimeMemoryBackend = 'webgpu' | 'wasm';

/** A runtime whose memory is measured: a tab's backend, or 'node', a `bouquet volunteer` process (in-thread wasm). */
export type RuntimeMemoryKind = RuntimeMemoryBackend | 'node';

/** What a block runtime really costs in memory: a fixed part, and a multiple of the weights (and cache) it holds. */
export interface RuntimeMemoryCost {
  /**
   * Peak resident bytes per nominal byte of weights or KV cache (blockBytes, cacheBytesPerBlock): onnxruntime's copy of the
   * weights in its wasm heap, their prepacked copy, the heap it keeps after loading, and the arrays and downloads alive
   * while a segment loads.
   */
  bytesPerWeightByte: number;
  /**
   * Peak resident bytes of the runtime before any weights: for a tab the page's own code, the worker, onnxruntime's wasm
   * module; for a Node process everything it adds after its modules are imported (wasm module, WebRTC, sockets, fetches).
   */
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
 *
 * node: a `bouquet volunteer --backend wasm` process (Node 20, onnxruntime-web 1.30 wasm, 1 thread, prepacking on, weights
 * over HTTP from `bouquet serve`), its VmHWM above its RSS before the runtime loads, serving every block of a model and
 * one 16-token chat (`npm run bench:node-memory`, 6 runs each on the 2-core machine, 2026-12-02, docs/results.md "Node
 * volunteer memory"): stories260K (1 MiB of weights + 8 sessions' cache) 131–172 MiB; synthetic models of 1, 2 and 4
 * blocks of 49 MiB (53, 102, 200 MiB with the cache) 301–349, 403–461 and 653–673 MiB. Not a line: the first block costs
 * ~3.4× its bytes, later ones ~2.2×, so the figures bound every run rather than fit them: 200 MiB + 3× weights and cache
 * (359 MiB for 1 block, 3 % above its worst run; 800 for 4, 19 %). A Node volunteer on WebGPU (Dawn) uses these too (not measured).
 */
export const runtimeMemoryCosts: Readonly<Record<RuntimeMemoryKind, RuntimeMemoryCost>> = {
  node: { bytesPerWeightByte: 3, fixedBytes: 200 * MiB, measured: 'Node 20, onnxruntime-web 1.30 wasm, bench:node-memory, 2026-12-02' },
  wasm: { bytesPerWeightByte: 3.75, fixedBytes: 224 * MiB, measured: 'Chromium 156, onnxruntime-web 1.30 wasm, split-model e2e test, 2026-12-01' },
  webgpu: { bytesPerWeightByte: 3.75, fixedBytes: 224 * MiB, measured: 'not measured (no GPU): the wasm figures' },
};

/**
 * M_j, the memory a volunteer registers (what placement divides into blocks and cache at their nominal sizes), for a
 * volunteer of runtime `kind` whose whole budget is `budgetBytes`: ⌊(budget − fixed) / bytesPerWeightByte⌋, 0 when the
 * budget does not cover the runtime's fixed part. So k·s_m + c·s_c ≤ M_j ⇒ fixed + F·(k·s_m + c·s_c) ≤ budget: the
 * volunteer's peak stays within it.
 */
export function placementMemoryBytes(budgetBytes: number, kind: RuntimeMemoryKind): number {
  const c = runtimeMemoryCosts[kind];
  return Math.max(0, Math.floor((budgetBytes - c.fixedBytes) / c.bytesPerWeightByte));
}

/**
 * M_j, bytes, for a volunteer (a page, or `bouquet volunteer --budget-mb`) whose whole budget is `budgetBytes`
 * (placementMemoryBytes), to register. Throws BouquetError 'bad-argument' when the budget does not even cover the
 * runtime's fixed part (the volunteer could hold nothing).
 */
export function registeredMemoryBytes(budgetBytes: number, kind: RuntimeMemoryKind): number {
  const m = placementMemoryBytes(budgetBytes, kind);
  if (m <= 0) {
    const mib = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
    throw new BouquetError('bad-argument', `a budget of ${mib(budgetBytes)} does not cover the runtime's own ${mib(runtimeMemoryCosts[kind].fixedBytes)}`);
  }
  return m;
}

/** The inverse: the whole budget, bytes, a volunteer of runtime `kind` needs for `placementBytes` of weights + cache at their nominal sizes. */
export function budgetBytesFor(placementBytes: number, kind: RuntimeMemoryKind): number {
  const c = runtimeMemoryCosts[kind];
  return Math.ceil(c.fixedBytes + c.bytesPerWeightByte * placementBytes);
}
