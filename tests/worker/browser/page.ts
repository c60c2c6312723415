// Test page bundled by Vite: drives worker/block-worker.ts through the Comlink proxy and reports plain numbers.
import type { ModelShape, WeightPrecision } from '../../../core/model/index.ts';
import { RuntimeError, type BackendName, type OpFlavour } from '../../../worker/index.ts';
import { createWorkerRuntime, type WorkerModelSource } from '../../../worker/worker-proxy.ts';

/** One run's request. */
export interface PageRun {
  backend: BackendName;
  model: WorkerModelSource;
  ops: OpFlavour;
  precision: WeightPrecision;
  ids: number[];
  /** Blocks of the model (the runtime serves them all). */
  numBlocks: number;
  threads?: number;
}

/** One run's results (hidden states of the prefill and of one decode step, logits of the decode step). */
export interface PageResult {
  backend: string;
  backendNotes: string[];
  threads: number;
  crossOriginIsolated: boolean;
  prefill: number[];
  decode: number[];
  logits: number[];
  cache: { hits: number; misses: number };
  errorCodes: Record<string, string>;
  /** Largest difference between one session over [0,L) and sessions [0,1) + [1,L). */
  splitDiff: number;
  /** Share of the cached keys/values held in GPU buffers after the decode step. */
  kvDeviceShare: number;
}

function newWorker(): Worker {
  return new Worker(new URL('../../../worker/block-worker.ts', import.meta.url), { type: 'module' });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return e instanceof RuntimeError ? e.code : `not a RuntimeError: ${String(e)}`;
  }
}

async function run(req: PageRun): Promise<PageResult> {
  const full = await createWorkerRuntime(newWorker(), {
    model: req.model,
    options: { blocks: { start: 0, end: req.numBlocks }, client: true, backends: [req.backend], ops: req.ops, precision: req.precision, maxSessionTokens: 32, cacheBudgetBytes: 1e9, ...(req.threads !== undefined ? { threads: req.threads } : {}) },
    wasmPaths: '/ort/',
  }).catch((e: unknown) => {
    throw e instanceof Error ? new Error(`${e.name}${e instanceof RuntimeError ? ` [${e.code}]` : ''}: ${e.message}`) : e;
  });
  try {
    const L = req.numBlocks;
    const d = full.initInfo.shape.hiddenSize;
    const x = await full.embed(Int32Array.from(req.ids));
    await full.openSession({ sessionId: 's', blocks: { start: 0, end: L }, maxLength: 16 });
    const pre = await full.step('s', x.slice(0, (req.ids.length - 1) * d));
    const dec = await full.step('s', x.slice((req.ids.length - 1) * d));
    const decodeHidden = Array.from(dec.hidden);
    const { deviceBytes, filledBytes } = await full.cacheUsage();
    const logits = await full.head(dec.hidden);
    const errorCodes: Record<string, string> = {
      tooLong: await codeOf(full.step('s', new Float32Array(20 * d))),
      // NaN/Inf are refused where peer frames enter (decodeFrame, SessionHost); the runtime asserts shapes.
      partialRow: await codeOf(full.step('s', new Float32Array(d + 1))),
      unknown: await codeOf(full.step('nope', new Float32Array(d))),
      tooLongSession: await codeOf(full.openSession({ sessionId: 't', blocks: { start: 0, end: 1 }, maxLength: 64 })),
    };
    // Sessions over [0,1) + [1,L) make the runtime split its segment; on WebGPU the open session's cache
    // moves from GPU buffers to the CPU first. Both routes must keep computing the same numbers.
    const n = req.ids.length;
    await full.openSession({ sessionId: 'a', blocks: { start: 0, end: 1 }, maxLength: 16 });
    await full.openSession({ sessionId: 'b', blocks: { start: 1, end: L }, maxLength: 16 });
    const b1 = await full.step('b', (await full.step('a', x.slice(0, (n - 1) * d))).hidden);
    const b2 = await full.step('b', (await full.step('a', x.slice((n - 1) * d))).hidden);
    const s3 = await full.step('s', x.slice(0, d));
    const b3 = await full.step('b', (await full.step('a', x.slice(0, d))).hidden);
    const diff = (u: Float32Array, v: ArrayLike<number>): number => u.reduce((m, e, i) => Math.max(m, Math.abs(e - (v[i] ?? NaN))), 0);
    const splitDiff = Math.max(diff(b1.hidden, pre.hidden), diff(b2.hidden, decodeHidden), diff(b3.hidden, s3.hidden));
    const cache = await full.weightCacheStats();
    return {
      backend: full.initInfo.backend,
      backendNotes: full.initInfo.backendNotes,
      threads: full.initInfo.threads,
      crossOriginIsolated: self.crossOriginIsolated,
      prefill: Array.from(pre.hidden),
      decode: decodeHidden,
      logits: Array.from(logits),
      cache,
      errorCodes,
      splitDiff,
      kvDeviceShare: deviceBytes / filledBytes,
    };
  } finally {
    await full.terminate();
  }
}

async function adapterInfo(): Promise<{ webgpu: boolean; fallback: boolean; shaderF16: boolean }> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ features: Set<string>; info?: { isFallbackAdapter?: boolean } } | null> } }).gpu;
  const a = await gpu?.requestAdapter();
  return { webgpu: a != null, fallback: a?.info?.isFallbackAdapter === true, shaderF16: a?.features.has('shader-f16') === true };
}

async function probe(shape: ModelShape, backend: BackendName): Promise<unknown> {
  const rt = await createWorkerRuntime(newWorker(), { model: { kind: 'synthetic', shape }, options: { client: true, backends: [backend] }, wasmPaths: '/ort/' });
  try {
    return await rt.probeSpeed(shape, { backends: [backend], prefillLengths: [8, 16, 32], decodeSteps: 4, repeats: 1 });
  } finally {
    await rt.terminate();
  }
}

(globalThis as { bouquetTest?: unknown }).bouquetTest = { run, adapterInfo, probe };
