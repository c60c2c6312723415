// Benchmark page (bundled by Vite in bench:runtime): times the block worker through the Comlink proxy in Chromium.
import type { WeightPrecision } from '../../../../core/model/index.ts';
import { type BackendName, createWorkerRuntime, type WorkerModelSource } from '../../../../worker/index.ts';

export interface BrowserBenchRequest {
  model: WorkerModelSource;
  blocks: number;
  precision: WeightPrecision;
  backend: BackendName;
  threads: number;
  prefillTokens: number;
  decodeSteps: number;
}

export interface BrowserBenchResult {
  backend: string;
  threads: number;
  crossOriginIsolated: boolean;
  /** Worker-side onnxruntime time. */
  prefillTokPerS: number;
  decodeTokPerS: number;
  /** Page-side wall time per decode step, Comlink round trip included, ms. */
  decodeWallMs: number;
  loadS: number;
}

async function bench(req: BrowserBenchRequest): Promise<BrowserBenchResult> {
  const t0 = performance.now();
  const rt = await createWorkerRuntime(new Worker(new URL('../../../../worker/block-worker.ts', import.meta.url), { type: 'module' }), {
    model: req.model,
    options: { blocks: { start: 0, end: req.blocks }, precision: req.precision, backends: [req.backend], threads: req.threads, maxSessionTokens: Math.max(320, req.prefillTokens + req.decodeSteps + 8), cacheBudgetBytes: Number.MAX_SAFE_INTEGER },
    wasmPaths: '/ort/',
    cacheWeights: false,
  });
  try {
    const loadS = (performance.now() - t0) / 1000;
    const d = rt.initInfo.shape.hiddenSize;
    const rows = (t: number): Float32Array => Float32Array.from({ length: t * d }, (_, i) => Math.sin(i * 0.37) * 0.5);
    // Warm-up: allocation, prepacking and V8's wasm tier-up (see runtime-bench.ts).
    await rt.openSession({ sessionId: 'warm', blocks: { start: 0, end: req.blocks }, maxLength: 320 });
    await rt.step('warm', rows(8));
    const warm0 = performance.now();
    for (let i = 0; i < 312 && (i < 8 || performance.now() - warm0 < 2000); i++) await rt.step('warm', rows(1));
    await rt.closeSession('warm');
    await rt.openSession({ sessionId: 'b', blocks: { start: 0, end: req.blocks }, maxLength: req.prefillTokens + req.decodeSteps + 8 });
    const pre = await rt.step('b', rows(req.prefillTokens));
    let computeMs = 0;
    const w0 = performance.now();
    for (let i = 0; i < req.decodeSteps; i++) computeMs += (await rt.step('b', rows(1))).computeMs;
    const wallMs = (performance.now() - w0) / req.decodeSteps;
    return {
      backend: rt.initInfo.backend,
      threads: rt.initInfo.threads,
      crossOriginIsolated: self.crossOriginIsolated,
      prefillTokPerS: (1000 * req.prefillTokens) / pre.computeMs,
      decodeTokPerS: (1000 * req.decodeSteps) / computeMs,
      decodeWallMs: wallMs,
      loadS,
    };
  } finally {
    await rt.terminate();
  }
}

(globalThis as { bouquetBench?: unknown }).bouquetBench = { bench };
