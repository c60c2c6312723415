// Dawn's `webgpu` package as navigator.gpu in Node (Node volunteers, bench:webgpu): loaded on demand, never in the browser bundle.
import os from 'node:os';
import v8 from 'node:v8';
import { BouquetError } from '../../core/errors/index.ts';

/** What Node found when it looked for WebGPU through Dawn. */
export type DawnProbe =
  | { ok: true; adapter: DawnAdapter }
  | { ok: false; reason: string };

/** The adapter Dawn picked. */
export interface DawnAdapter {
  /** vendor / architecture / device / description, as the adapter names itself. */
  description: string;
  /** A CPU rasteriser (SwiftShader, llvmpipe/lavapipe) or a fallback adapter: `auto` does not pick it. */
  software: boolean;
  shaderF16: boolean;
}

interface DawnModule {
  create(flags: string[]): DawnGpu;
  globals: Record<string, unknown>;
}

interface DawnAdapterLike {
  features: { has(f: string): boolean };
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

interface DawnGpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<DawnAdapterLike | null>;
}

type WriteBuffer = (buffer: unknown, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number) => void;

// Once per process: Dawn's globals and navigator.gpu can only be installed once, and the first probe's answer holds.
let installed: Promise<DawnProbe> | undefined;
let awake = 0;
let awakeTimer: ReturnType<typeof setInterval> | undefined;

/**
 * Where the package is loaded from: `BOUQUET_WEBGPU_MODULE` (a path or package name; the tests point it at a
 * missing file to play a machine without the optional dependency, and the GPU bench at its unpacked copy), else `webgpu`.
 */
function dawnModuleSpec(env: NodeJS.ProcessEnv): string {
  return env.BOUQUET_WEBGPU_MODULE ?? 'webgpu';
}

/** Names of CPU rasterisers a Vulkan driver may expose (they also set isFallbackAdapter, where Dawn knows). */
const softwareAdapter = /swiftshader|llvmpipe|lavapipe|softpipe/i;

/**
 * Loads Dawn's `webgpu` package, installs its WebGPU globals and `navigator.gpu`, and asks for an adapter
 * (high-performance). Never throws: a missing package or adapter comes back as `{ ok: false, reason }`.
 * Env: BOUQUET_WEBGPU_MODULE (see dawnModuleSpec), BOUQUET_DAWN_FLAGS (comma-separated Dawn toggles,
 * e.g. backend=vulkan), and the Vulkan loader's own (VK_ICD_FILENAMES picks the driver).
 */
export function installDawnWebGpu(env: NodeJS.ProcessEnv = process.env): Promise<DawnProbe> {
  installed ??= install(env);
  return installed;
}

async function install(env: NodeJS.ProcessEnv): Promise<DawnProbe> {
  const spec = dawnModuleSpec(env);
  let dawn: DawnModule;
  try {
    dawn = (await import(spec)) as DawnModule;
  } catch (e) {
    return { ok: false, reason: `Dawn's \`webgpu\` package (an optional dependency) could not be loaded from '${spec}': ${e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e)}` };
  }
  Object.assign(globalThis, dawn.globals);
  shareSafeWriteBuffer(dawn.globals);
  // Dawn's window-system probe prints "XDG_RUNTIME_DIR is invalid or not set" without one (a headless server, a service).
  if (env === process.env) process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  const flags = (env.BOUQUET_DAWN_FLAGS ?? '').split(',').filter((f) => f !== '');
  const gpu = dawn.create(flags);
  // Node 20 has no navigator; Node 21+ has one without gpu. Either way only `gpu` is added.
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  // Dawn settles its promises only while the event loop has a live handle (see keepDawnAwake).
  const release = keepDawnAwake();
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter === null) {
      return { ok: false, reason: 'Dawn found no WebGPU adapter (no GPU with a Vulkan driver Dawn accepts; Mesa lavapipe 22.3 lacks features Dawn requires)' };
    }
    const i = adapter.info ?? {};
    const description = [i.vendor, i.architecture, i.device, i.description].filter((x) => x !== undefined && x !== '').join(' / ');
    const software = i.isFallbackAdapter === true || adapter.isFallbackAdapter === true || softwareAdapter.test(description);
    return { ok: true, adapter: { description: description === '' ? 'unnamed adapter' : description, software, shaderF16: adapter.features.has('shader-f16') } };
  } finally {
    release();
  }
}

/**
 * Holds a ref'd timer while WebGPU work may be in flight; returns its release. dawn.node (0.6.2) resolves
 * createComputePipelineAsync and mapAsync only while Node's event loop has a live ref'd handle: with none
 * (a script, or a test whose only work is the GPU's), onnxruntime's first session waits forever. A Node
 * volunteer has sockets and heartbeats anyway; the timer makes that not matter. A 1 s interval costs nothing.
 */
export function keepDawnAwake(): () => void {
  if (awake++ === 0) awakeTimer = setInterval(() => undefined, 1000);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--awake === 0 && awakeTimer !== undefined) {
      clearInterval(awakeTimer);
      awakeTimer = undefined;
    }
  };
}

/**
 * Destroys onnxruntime-web's WebGPU device (`ort.env.webgpu.device`, one per process), freeing its GPU memory.
 * Call it when the process's last WebGPU runtime is gone: sessions on that `ort` cannot run afterwards.
 */
export async function destroyOrtWebGpuDevice(ort: { env: { webgpu: { device?: unknown } } }): Promise<void> {
  const device = (await Promise.resolve(ort.env.webgpu.device).catch(() => undefined)) as { destroy?: () => void } | undefined;
  device?.destroy?.();
}

/**
 * onnxruntime-web's threaded wasm hands queue.writeBuffer views of its SharedArrayBuffer heap; dawn.node
 * rejects those ("Invalid argument", or a crash for a plain SharedArrayBuffer), as browsers do not. Copy such views first.
 */
function shareSafeWriteBuffer(globals: Record<string, unknown>): void {
  const proto = (globals.GPUQueue as { prototype?: { writeBuffer: WriteBuffer } } | undefined)?.prototype;
  if (proto === undefined) return;
  const original = proto.writeBuffer;
  proto.writeBuffer = function (this: unknown, buffer, offset, data, dataOffset = 0, size?: number) {
    if (!(data.buffer instanceof SharedArrayBuffer)) return original.call(this, buffer, offset, data, dataOffset, size);
    const elem = 'BYTES_PER_ELEMENT' in data ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
    const bytes = size === undefined ? data.byteLength - dataOffset * elem : size * elem;
    const copy = new Uint8Array(bytes);
    copy.set(new Uint8Array(data.buffer, data.byteOffset + dataOffset * elem, bytes));
    return original.call(this, buffer, offset, copy, 0, bytes);
  };
}

/**
 * Keeps V8 from compiling WebAssembly with TurboFan from now on (`--liftoff-only`), for onnxruntime-web's WebGPU
 * build. Its asyncify wasm (26 MB) has functions so large that TurboFan takes minutes on them in background
 * threads, and Node's exit joins those threads: a Node volunteer on WebGPU took 1.5–4 minutes to exit after leaving
 * on the 2-core build machine, against seconds with Liftoff only. On WebGPU the wasm only drives the GPU, so the
 * baseline compiler costs little (bench:node-webgpu). Process-wide: call it only where WebGPU does the work.
 */
export function baselineWasmOnly(): void {
  v8.setFlagsFromString('--liftoff-only');
}

/** Backends a Node peer may be asked for. */
export type NodeBackendChoice = 'auto' | 'webgpu' | 'wasm';

/** The backend a Node peer runs on, and why. */
export interface NodeBackendDecision {
  backend: 'webgpu' | 'wasm';
  /** One line for the log and the report: what was found and why this backend. */
  reason: string;
  /** The adapter, when WebGPU was looked for and found. */
  adapter?: DawnAdapter;
}

/**
 * Picks a Node peer's backend, the browser's rule: `auto` takes WebGPU only on a real (non-software, non-fallback)
 * adapter, else wasm; `webgpu` takes any adapter Dawn finds (SwiftShader too: slow, for checking the path) and throws
 * BouquetError 'backend-unavailable' naming the reason when the package or an adapter is missing; `wasm` never looks.
 * Whether onnxruntime's WebGPU EP then starts is checked by the runtime's smoke graph (chooseBackend).
 */
export async function decideNodeBackend(choice: NodeBackendChoice, env: NodeJS.ProcessEnv = process.env): Promise<NodeBackendDecision> {
  switch (choice) {
    case 'wasm':
      return { backend: 'wasm', reason: 'wasm (asked for)' };
    case 'webgpu': {
      const probe = await installDawnWebGpu(env);
      if (!probe.ok) throw new BouquetError('backend-unavailable', `--backend webgpu: ${probe.reason}; use --backend wasm (or auto)`);
      const a = probe.adapter;
      return { backend: 'webgpu', adapter: a, reason: `webgpu (asked for) on ${a.description}${a.software ? ' — a software adapter: a CPU rasteriser, slower than wasm' : ''}` };
    }
    case 'auto': {
      const probe = await installDawnWebGpu(env);
      if (!probe.ok) return { backend: 'wasm', reason: `wasm (auto: ${probe.reason})` };
      const a = probe.adapter;
      if (a.software) return { backend: 'wasm', adapter: a, reason: `wasm (auto: the only WebGPU adapter is software, ${a.description}; --backend webgpu forces it)` };
      return { backend: 'webgpu', adapter: a, reason: `webgpu (auto: adapter ${a.description})` };
    }
    default: {
      const never: never = choice;
      throw new BouquetError('internal', `unknown backend choice ${String(never)}`);
    }
  }
}
