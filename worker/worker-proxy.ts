// The page side of the block worker: a BlockRuntime that forwards to worker/block-worker.ts through Comlink.
import * as Comlink from 'comlink';
import type { ModelShape } from '../core/model/index.ts';
import type { BlockWorkerApi, WorkerInit } from './block-worker.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import type { SpeedProbeOptions, SpeedProbeResult } from './runtime/speed-probe.ts';
import type { BlockRuntime, RuntimeInfo } from './runtime/types.ts';
import type { WeightLoadProgress } from './weights/progress.ts';

export type { WorkerInit, WorkerModelSource } from './block-worker.ts';
export type { WeightLoadProgress } from './weights/progress.ts';

/** Page-side options of createWorkerRuntime (functions: they cannot travel inside WorkerInit). */
export interface WorkerRuntimeOptions {
  /** Tensor bytes downloaded (or read from IndexedDB) so far, of the parts the runtime loads; starts at 0. */
  onProgress?: (p: WeightLoadProgress) => void;
}

/** A BlockRuntime in a worker, plus what only the worker can do. */
export interface WorkerRuntime extends BlockRuntime {
  /** Info returned by init. */
  readonly initInfo: RuntimeInfo;
  probeSpeed(shape: ModelShape, opts?: SpeedProbeOptions): Promise<SpeedProbeResult>;
  weightCacheStats(): Promise<{ hits: number; misses: number }>;
  /** Disposes the runtime and terminates the worker. */
  terminate(): Promise<void>;
}

/**
 * Starts the runtime in `worker` (created by the page, e.g.
 * `new Worker(new URL('../worker/block-worker.ts', import.meta.url), { type: 'module' })`).
 * Buffers passed to step/embed/head are transferred (the caller's array is detached afterwards).
 * Errors are RuntimeError with the same code as in the worker.
 */
export async function createWorkerRuntime(worker: Worker, init: WorkerInit, opts: WorkerRuntimeOptions = {}): Promise<WorkerRuntime> {
  installErrorTransfer();
  const remote = Comlink.wrap<BlockWorkerApi>(worker);
  const initInfo = await remote.init(init, opts.onProgress === undefined ? undefined : Comlink.proxy(opts.onProgress));
  const give = <T extends Float32Array | Int32Array>(a: T): T => Comlink.transfer(a, [a.buffer]);
  return {
    initInfo,
    info: () => remote.info(),
    openSession: (req) => remote.openSession(req),
    step: (sessionId, hidden) => remote.step(sessionId, give(hidden)),
    closeSession: (sessionId) => remote.closeSession(sessionId),
    cacheUsage: () => remote.cacheUsage(),
    embed: (ids) => remote.embed(give(ids)),
    head: (hidden) => remote.head(give(hidden)),
    dispose: () => remote.dispose(),
    probeSpeed: (shape, opts = {}) => remote.probeSpeed(shape, opts),
    weightCacheStats: () => remote.weightCacheStats(),
    terminate: async () => {
      await remote.dispose().catch(() => undefined);
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
