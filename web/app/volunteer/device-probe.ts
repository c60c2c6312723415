// What this device can give the swarm, as the page sees it: WebGPU adapter, limits and shader-f16, or wasm and its threads.
import { budgetBytesFor } from '../../../core/model/index.ts';

/** The WebGPU adapter as the volunteer page describes it. */
export interface GpuDescription {
  vendor: string;
  architecture: string;
  description: string;
  /** GPUAdapter limits the runtime cares about, bytes. */
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  shaderF16: boolean;
  /** A software rasteriser (SwiftShader, llvmpipe): WebGPU works but is slower than wasm. */
  fallbackAdapter: boolean;
}

/** What the page found. */
export interface DeviceDescription {
  /** The adapter, or null with the reason WebGPU is not usable. */
  gpu: GpuDescription | null;
  gpuUnavailableReason: string | null;
  /** Logical cores the browser reports. */
  cores: number;
  /** Threads multi-threaded wasm may use (1 without cross-origin isolation: no SharedArrayBuffer). */
  wasmThreads: number;
  crossOriginIsolated: boolean;
  /** navigator.deviceMemory in bytes (Chromium only, rounded and capped at 8 GiB), or null. */
  deviceMemoryBytes: number | null;
}

interface AdapterLike {
  features: { has(name: string): boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

const gib = 1024 ** 3;

/** Probes WebGPU and wasm in the page (cheap; the worker re-checks when it picks a backend). */
export async function describeDevice(nav: Navigator = navigator, isolated: boolean = globalThis.crossOriginIsolated): Promise<DeviceDescription> {
  const cores = nav.hardwareConcurrency > 0 ? nav.hardwareConcurrency : 1;
  const memGb = (nav as Navigator & { deviceMemory?: number }).deviceMemory;
  const base = {
    cores,
    wasmThreads: isolated ? Math.max(1, Math.min(4, cores)) : 1,
    crossOriginIsolated: isolated,
    deviceMemoryBytes: typeof memGb === 'number' && memGb > 0 ? memGb * gib : null,
  };
  const gpu = (nav as Navigator & { gpu?: { requestAdapter(): Promise<AdapterLike | null> } }).gpu;
  if (gpu === undefined) return { ...base, gpu: null, gpuUnavailableReason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ...base, gpu: null, gpuUnavailableReason: `requestAdapter failed: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (adapter === null) return { ...base, gpu: null, gpuUnavailableReason: 'no WebGPU adapter (disabled, blocklisted, or no GPU)' };
  const info = adapter.info ?? {};
  return {
    ...base,
    gpu: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      shaderF16: adapter.features.has('shader-f16'),
      fallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
    },
    gpuUnavailableReason: null,
  };
}

/** What a budget is sized for: the model's blocks and their per-session cache (ModelInfo fits). */
export interface ModelNeed {
  numBlocks: number;
  /** Bytes of one block's weights. */
  blockBytes: number;
  /** Bytes of one session's cache for one block. */
  cacheBytesPerBlock: number;
}

/** Sessions a default budget leaves cache room for on every block of the model. */
export const defaultBudgetSessions = 8;

const mib = 1024 ** 2;

/**
 * Budget choices offered, bytes: the tab's whole memory for serving (core/model's budgetBytesFor: the runtime's
 * measured fixed part and its cost per weight byte), up to what the device reports (or 8 GiB when it does not say).
 * Without a model: from 256 MiB, default a quarter of the device (1 GiB when unknown). With one: from what one block
 * and one session need, the default min(a quarter of the device, the budget for twice all its blocks plus the cache
 * of `defaultBudgetSessions` sessions) — not 1 GiB for a 1 MB model — on a finer scale for small models.
 */
export function budgetRange(device: DeviceDescription, model: ModelNeed | null = null): { minBytes: number; maxBytes: number; defaultBytes: number; stepBytes: number } {
  const known = device.deviceMemoryBytes;
  const quarterStep = 256 * mib;
  if (model === null) {
    const minBytes = quarterStep;
    const maxBytes = Math.max(minBytes, known ?? 8 * gib);
    // A quarter of the device (or 1 GiB when unknown) keeps the browser and other tabs comfortable.
    const defaultBytes = Math.min(maxBytes, Math.max(minBytes, known === null ? gib : Math.round(known / 4 / quarterStep) * quarterStep));
    return { minBytes, maxBytes, defaultBytes, stepBytes: quarterStep };
  }
  const needBytes = budgetBytesFor(2 * model.numBlocks * (model.blockBytes + defaultBudgetSessions * model.cacheBytesPerBlock), 'wasm');
  const stepBytes = needBytes < gib ? 16 * mib : quarterStep;
  const minBytes = Math.ceil(budgetBytesFor(model.blockBytes + model.cacheBytesPerBlock, 'wasm') / stepBytes) * stepBytes;
  const maxBytes = Math.max(minBytes, known ?? 8 * gib);
  const comfortable = known === null ? maxBytes : Math.max(minBytes, Math.floor(known / 4 / stepBytes) * stepBytes);
  const defaultBytes = Math.min(maxBytes, comfortable, Math.max(minBytes, Math.ceil(needBytes / stepBytes) * stepBytes));
  return { minBytes, maxBytes, defaultBytes, stepBytes };
}
