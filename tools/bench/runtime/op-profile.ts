// Per-operator decode time of one block graph per weight precision, from onnxruntime's own profiler (enableProfiling).
import * as ort from 'onnxruntime-web';
import type { ModelShape, WeightPrecision } from '../../../core/model/index.ts';
import { blockIo, blocksInMemory, buildBlockRangeGraph } from '../../../worker/index.ts';
import { syntheticWeights } from '../../../worker/index.ts';

/** Decode steps a profile times (after its warm-up). */
export const profileSteps = 8;

/** Mean kernel µs per decode step, by operator type. */
export type OpProfile = Record<string, number>;

interface ProfileEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string };
}

/**
 * Builds block 0 of `shape` at `precision` (contrib ops), runs `warmSteps` + `steps` one-token decode steps
 * at `past` cached positions with profiling on, and sums the kernel time of each operator type over the
 * timed steps (see aggregateProfile).
 */
export async function profileBlockOps(shape: ModelShape, precision: WeightPrecision, threads: number, steps = profileSteps, warmSteps = 40, past = 32): Promise<void> {
  ort.env.wasm.numThreads = threads;
  const w = syntheticWeights(shape, 1);
  const graph = await buildBlockRangeGraph(shape, blocksInMemory([await w.block(0)]), { precision, ops: 'contrib', maxPositions: past + 8 });
  const session = await ort.InferenceSession.create(graph.bytes, { executionProviders: ['wasm'], enableProfiling: true });
  const d = shape.hiddenSize;
  const kv = new Float32Array(shape.numKvHeads * past * shape.headDim);
  const feeds = {
    [blockIo.hiddenIn]: new ort.Tensor('float32', Float32Array.from({ length: d }, (_, i) => Math.sin(i)), [1, 1, d]),
    [blockIo.seqlensK]: new ort.Tensor('int32', Int32Array.from([past]), [1]),
    [blockIo.totalLength]: new ort.Tensor('int32', Int32Array.from([past + 1]), []),
    [blockIo.pastKey(0)]: new ort.Tensor('float32', kv, [1, shape.numKvHeads, past, shape.headDim]),
    [blockIo.pastValue(0)]: new ort.Tensor('float32', kv, [1, shape.numKvHeads, past, shape.headDim]),
  };
  for (let i = 0; i < warmSteps + steps; i++) await session.run(feeds);
  // The wasm build prints the profile JSON on stdout (through a console bound at start-up: it cannot be
  // intercepted here); the parent process reads it from this process's output (aggregateProfile).
  session.endProfiling();
  await session.release();
}

/** Kernel µs per step by operator type, over the last `steps` runs of a profile printed in `text`. */
export function aggregateProfile(text: string, steps: number): OpProfile {
  const start = text.indexOf('[');
  const events = JSON.parse(text.slice(start, text.lastIndexOf(']') + 1)) as ProfileEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
  const from = runs[runs.length - steps]?.ts ?? 0;
  const out: OpProfile = {};
  for (const e of events) {
    if (e.cat !== 'Node' || (e.ts ?? 0) < from || e.name?.endsWith('_kernel_time') !== true) continue;
    const op = e.args?.op_name ?? '?';
    out[op] = (out[op] ?? 0) + (e.dur ?? 0) / steps;
  }
  return out;
}
