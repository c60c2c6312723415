// The wasm thread count that runs a decode-sized MatMul fastest on this machine, probed in worker threads (each its own wasm instance).
import { BouquetError } from '../../core/errors/index.ts';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { GraphBuilder } from '../../worker/index.ts';

/** What the probe measured: ms per run of a [1, k] × [k, n] MatMul at each thread count tried. */
export interface ThreadProbe {
  threads: number;
  msPerRun: Record<number, number>;
}

// A worker of plain JS: ort.env.wasm.numThreads is fixed once per wasm instance, so each count needs its own.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const ort = await import(workerData.ortUrl);
  ort.env.wasm.numThreads = workerData.threads;
  const s = await ort.InferenceSession.create(workerData.graph, { executionProviders: ['wasm'] });
  const x = new ort.Tensor('float32', new Float32Array(workerData.k).fill(0.5), [1, workerData.k]);
  for (let i = 0; i < 5; i++) await s.run({ x });
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < workerData.budgetMs || n < 5) { await s.run({ x }); n++; }
  parentPort.postMessage((performance.now() - t0) / n);
  await s.release();
})().catch((e) => parentPort.postMessage(String(e)));
`;

function probeGraph(k: number, n: number): Uint8Array {
  const g = new GraphBuilder('thread_probe');
  g.input('x', 'float32', [1, k]);
  const w = new Float32Array(k * n);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 1e5;
  g.node('MatMul', ['x', g.init('w', 'float32', [k, n], w)], ['y']);
  g.output('y', 'float32', [1, n]);
  return g.toBytes();
}

async function timeAt(threads: number, graph: Uint8Array, k: number, budgetMs: number): Promise<number> {
  const ortUrl = import.meta.resolve('onnxruntime-web');
  const worker = new Worker(workerSource, { eval: true, workerData: { ortUrl, threads, graph, k, budgetMs } });
  try {
    const ms = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (typeof ms !== 'number') throw new BouquetError('backend-unavailable', `thread probe failed: ${String(ms)}`);
    return ms;
  } finally {
    await worker.terminate();
  }
}

/**
 * Times a MatMul the size of a 1B-class projection (2048 × 2048, 16 MiB: bigger than most L2s, as decode
 * is) at 1 thread and at min(4, cores) threads, and picks the faster: never slower than one thread.
 * ~0.5 s. Falls back to 1 thread if the probe cannot run.
 */
export async function fastestWasmThreads(maxThreads = Math.min(4, availableParallelism()), budgetMs = 150): Promise<ThreadProbe> {
  const candidates = [...new Set([1, Math.max(1, maxThreads)])];
  const k = 2048;
  const graph = probeGraph(k, 2048);
  const msPerRun: Record<number, number> = {};
  try {
    for (const t of candidates) msPerRun[t] = await timeAt(t, graph, k, budgetMs);
  } catch {
    return { threads: 1, msPerRun };
  }
  let best = 1;
  // A thread count must beat one thread by 10% to be chosen: the hand-offs cost more when the machine is busy.
  for (const t of candidates) if ((msPerRun[t] ?? Infinity) < 0.9 * (msPerRun[best] ?? Infinity)) best = t;
  return { threads: best, msPerRun };
}
