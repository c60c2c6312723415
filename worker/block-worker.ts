// The module worker a page starts: an in-thread BlockRuntime on onnxruntime-web/webgpu (WebGPU, else wasm), exposed with Comlink.
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/webgpu';
import type { ModelShape } from '../core/model/index.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import { RuntimeError } from './errors.ts';
import {
  createInThreadRuntime, probeSpeed,
  type BlockRuntime, type OpenSessionRequest, type RuntimeInfo, type RuntimeOptions, type SpeedProbeOptions, type SpeedProbeResult,
  type StepResult, type WorkerRuntimeExtras,
} from './runtime/index.ts';
import { cachedModelFiles, weightCacheStore, httpModelFiles, openModelWeights, storedBytesOf, weightPartsToLoad, WeightReadMeter, type WeightLoadProgress, syntheticWeights, type ModelWeights } from './weights/index.ts';

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

async function openWeights(src: WorkerModelSource, cache: boolean, meter: WeightReadMeter | null): Promise<ModelWeights> {
  switch (src.kind) {
    case 'url': {
      const http = httpModelFiles(new URL(src.baseUrl, self.location.href).href);
      // The meter sits outside the cache: IndexedDB hits count as fetched.
      const files = cache ? cachedModelFiles(http, weightCacheStore(), cacheStats) : http;
      return openModelWeights(meter === null ? files : meter.wrap(files), src.checkpoint !== undefined ? { kind: 'llama2c', checkpoint: src.checkpoint } : undefined);
    }
    case 'synthetic':
      return syntheticWeights(src.shape, src.seed ?? 1);
    default: {
      const never: never = src;
      throw new RuntimeError('bad-input', `unknown model source ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The worker's Comlink API: the BlockRuntime contract (forwarded to the in-thread runtime it starts),
 * the worker's extras, and `init`. Import as a type only.
 */
export interface BlockWorkerApi extends BlockRuntime, WorkerRuntimeExtras {
  /**
   * Loads the model parts and starts the runtime; returns what it runs. `onProgress` (a Comlink.proxy'd
   * function) hears the tensor bytes read so far of the parts asked for, from 0 to their total.
   */
  init(init: WorkerInit, onProgress?: (p: WeightLoadProgress) => void): Promise<RuntimeInfo>;
}

const api: BlockWorkerApi = {
  /**
   * Loads the model parts and starts the runtime; returns what it runs. `onProgress` (a Comlink.proxy'd
   * function) hears the tensor bytes read so far of the parts asked for, from 0 to their total.
   */
  async init(init: WorkerInit, onProgress?: (p: WeightLoadProgress) => void): Promise<RuntimeInfo> {
    if (runtime !== null) await runtime.dispose();
    runtime = null;
    if (init.wasmPaths !== undefined) ort.env.wasm.wasmPaths = new URL(init.wasmPaths, self.location.href).href;
    // Through Comlink each call is a message; a page that went away must not fail the load.
    const meter = onProgress === undefined ? null : new WeightReadMeter((p) => void Promise.resolve(onProgress(p)).catch(() => undefined));
    const weights = await openWeights(init.model, init.cacheWeights ?? true, meter);
    const totalBytes = storedBytesOf(weights, weightPartsToLoad(init.options.blocks, init.options.client === true));
    if (meter !== null && totalBytes !== null && totalBytes > 0) meter.start(totalBytes);
    try {
      runtime = await createInThreadRuntime(ort, weights, init.options);
    } finally {
      meter?.stop();
    }
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
  probeSpeed: (shape: ModelShape, opts: SpeedProbeOptions = {}): Promise<SpeedProbeResult> => probeSpeed(ort, shape, opts),
  weightCacheStats: () => Promise.resolve({ ...cacheStats }),
};

Comlink.expose(api);
