// Execution-provider choice: try each backend of a priority list once, report every failure in one error.
import { BouquetError } from '../../core/errors/index.ts';
import type * as OrtNs from 'onnxruntime-web';
import { RuntimeError } from '../errors.ts';
import { GraphBuilder } from '../graph/index.ts';
import type { BackendName } from './types.ts';

/** The onnxruntime-web module: 'onnxruntime-web' in Node, 'onnxruntime-web/webgpu' in a browser worker. */
export type Ort = typeof OrtNs;

/** A backend that started, and what it can do. */
export interface ChosenBackend {
  name: BackendName;
  /** executionProviders for InferenceSession.create. */
  executionProviders: OrtNs.InferenceSession.ExecutionProviderConfig[];
  threads: number;
  /** WebGPU adapter has shader-f16 (fp16 compute is worth it). */
  shaderF16: boolean;
  /** Failures of backends tried before. */
  notes: string[];
}

interface GpuLike {
  requestAdapter(): Promise<{ features: { has(f: string): boolean } } | null>;
}

/**
 * wasm threads when the caller names none: 1 in a browser, min(4, cores) in Node. Tabs of one machine (volunteers
 * and the chat tab) take turns along a chain, and each tab's extra pool threads fought the computing tab for the
 * cores: a 103M-parameter checkpoint over two volunteer tabs on a 2-core machine took 588 ms/token with 2 threads
 * per tab and 48 ms with 1 (docs/results.md, bench:swarm --browser). Multi-threaded wasm also needs
 * SharedArrayBuffer, which a page has only when cross-origin isolated.
 */
function defaultThreads(): number {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: unknown };
  if (g.process === undefined) return 1;
  return Math.max(1, Math.min(4, g.navigator?.hardwareConcurrency ?? 2));
}

/** Whether onnxruntime's idle pool threads spin when the caller does not say: not in a browser (see defaultThreads: a waiting tab must not take the cores), yes in Node. */
export function defaultThreadSpinning(): boolean {
  return (globalThis as { process?: unknown }).process !== undefined;
}

/** A one-Add graph used to check that an execution provider really starts. */
function smokeGraph(): Uint8Array {
  const g = new GraphBuilder('smoke');
  g.input('a', 'float32', [2]);
  g.init('b', 'float32', [2], new Float32Array([1, 2]));
  g.node('Add', ['a', 'b'], ['c']);
  g.output('c', 'float32', [2]);
  return g.toBytes();
}

/**
 * Tries `priority` in order (each once) and returns the first backend that runs a smoke graph.
 * Throws RuntimeError 'backend-unavailable' listing every failure. `threads` sets ort.env.wasm.numThreads
 * (it only takes effect before the first session in the process).
 */
export async function chooseBackend(ort: Ort, priority: BackendName[], threads?: number): Promise<ChosenBackend> {
  const notes: string[] = [];
  if (ort.env.wasm.numThreads === undefined || threads !== undefined) ort.env.wasm.numThreads = threads ?? defaultThreads();
  for (const name of priority) {
    try {
      switch (name) {
        case 'webgpu': {
          const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
          if (gpu === undefined) throw new RuntimeError('backend-unavailable', 'navigator.gpu is missing (no WebGPU in this environment)');
          const adapter = await gpu.requestAdapter();
          if (adapter === null) throw new RuntimeError('backend-unavailable', 'requestAdapter() returned null (WebGPU disabled or no adapter)');
          const shaderF16 = adapter.features.has('shader-f16');
          await smokeTest(ort, ['webgpu']);
          return { name, executionProviders: ['webgpu'], threads: ort.env.wasm.numThreads ?? 1, shaderF16, notes };
        }
        case 'wasm':
          await smokeTest(ort, ['wasm']);
          return { name, executionProviders: ['wasm'], threads: ort.env.wasm.numThreads ?? 1, shaderF16: false, notes };
        default: {
          const never: never = name;
          throw new BouquetError('internal', `unknown backend ${String(never)}`);
        }
      }
    } catch (e) {
      notes.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new RuntimeError('backend-unavailable', `no execution provider could start — ${notes.join('; ')}`);
}

async function smokeTest(ort: Ort, eps: string[]): Promise<void> {
  const session = await ort.InferenceSession.create(smokeGraph(), { executionProviders: eps });
  try {
    const out = await session.run({ a: new ort.Tensor('float32', new Float32Array([1, 1]), [2]) });
    const c = out.c;
    if (c === undefined) throw new RuntimeError('backend-unavailable', 'smoke graph produced no output');
    const data = (c.location === 'cpu' ? c.data : await c.getData()) as Float32Array;
    if (data[0] !== 2 || data[1] !== 3) throw new RuntimeError('backend-unavailable', `smoke graph computed ${String(data[0])}, ${String(data[1])} instead of 2, 3`);
  } finally {
    await session.release();
  }
}
