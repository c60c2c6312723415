// Starts a browser tab's BlockRuntime in a module worker (worker/block-worker.ts via Comlink).
import { cacheBudgetBytes } from '../../core/cache/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import type { ModelShape } from '../../core/model/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { type BackendName, type BlockRuntime, startWorkerRuntime, type WeightLoadProgress, type WorkerModelSource, type WorkerRuntime } from '../../worker/index.ts';
import type { LoadPhase, RuntimeStarter, SpeedMeasurement } from './agent.ts';

/** Options of the worker-backed volunteer runtime. */
export interface WorkerVolunteerOptions {
  /** Starts a fresh block worker (the page owns the `new Worker(new URL(...))` line so Vite bundles it). */
  newWorker: () => Worker;
  model: WorkerModelSource;
  /** Backends in priority order (default WebGPU, then wasm). */
  backends?: BackendName[];
  /** URL prefix of onnxruntime-web's files (default '/ort/'). */
  wasmPaths?: string;
  threads?: number;
  /** onnxruntime's idle pool threads spin-wait (its default); false lets them sleep while the tab waits for work. */
  threadSpinning?: boolean;
  /** A worker whose start goes silent this long is replaced (default 30000 ms; see worker-proxy's startWorkerRuntime). */
  silentStartMs?: number;
}

/** A RuntimeStarter for a worker; also tells which backend and shape it found (after `prepare`). */
export interface WorkerVolunteerRuntime extends RuntimeStarter {
  /** Starts a worker without blocks to learn the model's shape and the backend that works here. */
  prepare(): Promise<{ shape: ModelShape; backend: BackendName; backendNotes: string[] }>;
}

/** Creates the page's volunteer runtime. */
export function workerVolunteerRuntime(options: WorkerVolunteerOptions): WorkerVolunteerRuntime {
  let probe: WorkerRuntime | null = null;
  let serving: WorkerRuntime | null = null;
  let shape: ModelShape | null = null;
  const silentStartMs = options.silentStartMs ?? 30_000;
  const base = {
    model: options.model,
    wasmPaths: options.wasmPaths ?? '/ort/',
  };
  const runtimeOptions = (): { backends: BackendName[]; threads?: number } => ({
    backends: options.backends ?? ['webgpu', 'wasm'],
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const servingOptions = (): { backends: BackendName[]; threads?: number; threadSpinning?: boolean } => ({
    ...runtimeOptions(),
    ...(options.threadSpinning !== undefined ? { threadSpinning: options.threadSpinning } : {}),
  });
  const prepare = async (): Promise<{ shape: ModelShape; backend: BackendName; backendNotes: string[] }> => {
    probe ??= await startWorkerRuntime(options.newWorker, { ...base, options: runtimeOptions() }, { silentStartMs });
    shape = probe.initInfo.shape;
    return { shape, backend: probe.initInfo.backend, backendNotes: probe.initInfo.backendNotes };
  };
  return {
    prepare,
    async measureSpeed(): Promise<SpeedMeasurement> {
      const { shape: s } = await prepare();
      if (probe === null) throw new BouquetError('internal', 'probe runtime missing');
      const r = await probe.probeSpeed(s, { ...runtimeOptions(), backends: [probe.initInfo.backend], decodeSteps: 8, repeats: 1, prefillLengths: [8, 32] });
      await probe.terminate();
      probe = null;
      return { decodeMsPerBlock: r.decodeMsPerBlock, prefillMsPerBlock: r.prefillMsPerBlock };
    },
    async load(span: BlockSpan, cacheSlots: number, maxSessionTokens: number, onPhase: (p: LoadPhase, f?: number) => void): Promise<BlockRuntime> {
      if (serving !== null) await serving.terminate();
      serving = null;
      const { shape: s } = await prepare();
      await probe?.terminate();
      probe = null;
      // Weights stream in (HTTP range reads, cached in IndexedDB) while the worker builds its sessions:
      // 'downloading' with the share of the span's tensor bytes read, then 'loading' for the rest of the build.
      onPhase('downloading');
      // Progress comes on its own port: a late message must not undo the status after the load.
      let loaded = false;
      const onProgress = ({ loadedBytes, totalBytes }: WeightLoadProgress): void => {
        if (loaded) return;
        if (loadedBytes >= totalBytes) onPhase('loading');
        else onPhase('downloading', loadedBytes / totalBytes);
      };
      // Size the cache to the slots the placement expects (one slot = one block's cache for one session, fp32 here, in 16-token blocks).
      const tokens = Math.min(maxSessionTokens, s.maxSeqLen);
      serving = await startWorkerRuntime(options.newWorker, {
        ...base,
        options: { ...servingOptions(), blocks: span, maxSessionTokens: tokens, cacheBudgetBytes: cacheBudgetBytes(s, cacheSlots, tokens) },
      }, { onProgress, silentStartMs });
      loaded = true;
      return serving;
    },
    async unload(): Promise<void> {
      const s = serving;
      serving = null;
      if (s !== null) await s.terminate();
    },
  };
}
