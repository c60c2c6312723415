// The page side of the block worker: a BlockRuntime that forwards to worker/block-worker.ts through Comlink.
import * as Comlink from 'comlink';
import type { BlockWorkerApi, WorkerInit } from './block-worker.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import { RuntimeError } from './errors.ts';
import type { BlockRuntime, RuntimeInfo, WorkerRuntimeExtras } from './runtime/index.ts';
import type { WeightLoadProgress } from './weights/index.ts';

export type { WorkerInit, WorkerModelSource } from './block-worker.ts';
export type { WeightLoadProgress } from './weights/index.ts';

/** Page-side options of createWorkerRuntime (functions: they cannot travel inside WorkerInit). */
export interface WorkerRuntimeOptions {
  /** Tensor bytes downloaded (or read from IndexedDB) so far, of the parts the runtime loads; starts at 0. */
  onProgress?: (p: WeightLoadProgress) => void;
}

/**
 * A BlockRuntime in a worker: the same contract as the in-thread runtime (it forwards every call), the
 * worker's extras, and its lifecycle.
 */
export interface WorkerRuntime extends BlockRuntime, WorkerRuntimeExtras {
  /** Info returned by init. */
  readonly initInfo: RuntimeInfo;
  /** Disposes the runtime and terminates the worker. */
  terminate(): Promise<void>;
}

/**
 * Starts the runtime in `worker` (created by the page, e.g.
 * `new Worker(new URL('./block-worker.ts', import.meta.url), { type: 'module' })`).
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

/** Options of startWorkerRuntime. */
export interface StartWorkerOptions extends WorkerRuntimeOptions {
  /** A worker that neither answers its start nor reports weight progress for this long is replaced, ms (default 30000). */
  silentStartMs?: number;
}

/** How many workers startWorkerRuntime tries when their start goes silent, before it gives up. */
const startAttempts = 3;
const silence = Symbol('silent start');

/**
 * Starts a block worker, replacing it when it goes silent while starting. Why: in Firefox (ESR 153) a
 * fresh worker's start now and then never answers: its weights header is read, then onnxruntime-web's
 * wasm start (the backend smoke test, with its pthread workers) never returns, with no error anywhere.
 * Seen about once in five runs of tests/e2e/ui-firefox.test.ts, in the page's first worker and in a
 * later one of the same page, in a page alone in its browser context as well as after others, so it
 * is neither IndexedDB nor Web Locks contention between pages. A new worker starts normally, so the
 * page ends the silent one and starts another (at most `startAttempts` times). Silence is measured
 * up to the last weight byte read: building the sessions afterwards may legitimately take long.
 * Use it instead of createWorkerRuntime wherever a page starts a block worker (it takes a factory).
 */
export async function startWorkerRuntime(newWorker: () => Worker, init: WorkerInit, opts: StartWorkerOptions = {}): Promise<WorkerRuntime> {
  const silentStartMs = opts.silentStartMs ?? 30_000;
  const onProgress = opts.onProgress;
  const silences: string[] = [];
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    const worker = newWorker();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wentSilent: (v: typeof silence) => void = () => undefined;
    const silent = new Promise<typeof silence>((resolve) => (wentSilent = resolve));
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => wentSilent(silence), silentStartMs);
    };
    arm();
    const progress = (p: WeightLoadProgress): void => {
      if (p.loadedBytes >= p.totalBytes) clearTimeout(timer);
      else arm();
      onProgress?.(p);
    };
    try {
      const started = await Promise.race([createWorkerRuntime(worker, init, { onProgress: progress }), silent]);
      if (started !== silence) return started;
    } catch (e) {
      worker.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    worker.terminate();
    silences.push(`attempt ${attempt}: no answer for ${silentStartMs} ms`);
    console.warn(`block worker start went silent for ${silentStartMs} ms (attempt ${attempt} of ${startAttempts}); starting a new worker`);
  }
  throw new RuntimeError('backend-unavailable', `the block worker did not start: ${silences.join('; ')} (reload the page to try again)`);
}
