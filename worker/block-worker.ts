// The module worker a page starts: an in-thread BlockRuntime on onnxruntime-web/webgpu (WebGPU, else wasm), exposed with Comlink.
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/webgpu';
import type { ModelShape } from '../core/model/index.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import { RuntimeError } from './errors.ts';
import { createInThreadRuntime, probeSpeed, type BlockRuntime, type RuntimeInfo, type SpeedProbeOptions, type SpeedProbeResult } from './runtime/index.ts';
import type { OpenSessionRequest, RuntimeOptions, StepResult } from './runtime/types.ts';
import { cachedModelFiles, weightCacheStore } from './weights/idb-cache.ts';
import { httpModelFiles } from './weights/http-files.ts';
import { openModelWeights } from './weights/open.ts';
import { syntheticWeights } from './weights/synthetic.ts';
import type { ModelWeights } from './weights/types.ts';

/** Where the worker gets its model. */
export type WorkerModelSource =
  | { kind: 'url'; /** URL prefix of the model folder. */ baseUrl: string; /** llama2.c checkpoint file name (HTTP cannot list). */ checkpoint?: string }
  | { kind: 'synthetic'; shape: ModelShape; seed?: number };

/** What the page sends to start the runtime. */
export interface WorkerInit {
  model: WorkerModelSource;
  options: RuntimeOptions;
  /** URL prefix of onnxruntime-web's dist files (its .wasm/.mjs), e.g. '/ort/'. */
  wasmPaths?: string;
  /** Keep downloaded tensor bytes in IndexedDB (default true). */
  cacheWeights?: boolean;
}

installErrorTransfer();

let runtime: BlockRuntime | null = null;
const cacheStats = { hits: 0, misses: 0 };

function rt(): BlockRuntime {
  if (runtime === null) throw new RuntimeError('not-loaded', 'the worker runtime is not initialised: call init() first');
  return runtime;
}

/** A Float32Array that owns its whole buffer, so the buffer can be transferred. */
function owned(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

async function openWeights(src: WorkerModelSource, cache: boolean): Promise<ModelWeights> {
  switch (src.kind) {
    case 'url': {
      const files = cache ? cachedModelFiles(httpModelFiles(new URL(src.baseUrl, self.location.href).href), weightCacheStore(), cacheStats) : httpModelFiles(new URL(src.baseUrl, self.location.href).href);
      return openModelWeights(files, src.checkpoint !== undefined ? { kind: 'llama2c', checkpoint: src.checkpoint } : undefined);
    }
    case 'synthetic':
      return syntheticWeights(src.shape, src.seed ?? 1);
    default: {
      const never: never = src;
      throw new RuntimeError('bad-input', `unknown model source ${JSON.stringify(never)}`);
    }
  }
}

const api = {
  /** Loads the model parts and starts the runtime; returns what it runs. */
  async init(init: WorkerInit): Promise<RuntimeInfo> {
    if (runtime !== null) await runtime.dispose();
    runtime = null;
    if (init.wasmPaths !== undefined) ort.env.wasm.wasmPaths = new URL(init.wasmPaths, self.location.href).href;
    const weights = await openWeights(init.model, init.cacheWeights ?? true);
    runtime = await createInThreadRuntime(ort, weights, init.options);
    return runtime.info();
  },
  info: (): Promise<RuntimeInfo> => rt().info(),
  openSession: (req: OpenSessionRequest) => rt().openSession(req),
  async step(sessionId: string, hidden: Float32Array): Promise<StepResult> {
    const r = await rt().step(sessionId, hidden);
    const h = owned(r.hidden);
    return Comlink.transfer({ ...r, hidden: h }, [h.buffer]);
  },
  closeSession: (sessionId: string) => rt().closeSession(sessionId),
  cacheUsage: () => rt().cacheUsage(),
  async embed(ids: Int32Array): Promise<Float32Array> {
    const e = owned(await rt().embed(ids));
    return Comlink.transfer(e, [e.buffer]);
  },
  async head(hidden: Float32Array): Promise<Float32Array> {
    const l = owned(await rt().head(hidden));
    return Comlink.transfer(l, [l.buffer]);
  },
  async dispose(): Promise<void> {
    await runtime?.dispose();
    runtime = null;
  },
  /** The join-time speed probe, on this worker's backend choice. */
  probeSpeed: (shape: ModelShape, opts: SpeedProbeOptions): Promise<SpeedProbeResult> => probeSpeed(ort, shape, opts),
  /** IndexedDB hits/misses of weight reads since the worker started. */
  weightCacheStats: (): { hits: number; misses: number } => ({ ...cacheStats }),
};

/** The worker's Comlink API (import as a type only). */
export type BlockWorkerApi = typeof api;

Comlink.expose(api);
