// The coordinator's own recomputation of a disputed step: the in-process onnxruntime-web (wasm) runtime the `generate` verb uses, on the served model's files.
import * as ort from 'onnxruntime-web';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { createInThreadRuntime, openModelWeights, type BlockRuntime, type ModelWeights } from '../../worker/index.ts';
import { resolveModel } from '../models/index.ts';
import type { StepRecomputer } from './verdicts.ts';

/** Runtimes kept loaded, one per disputed span (most recently used kept): the weights of a span stay in memory between disputes. */
const maxLoadedSpans = 2;

/**
 * A StepRecomputer over the model in `folder`: it loads the disputed span's blocks once (wasm, one
 * thread), opens a session sized for the inputs, prefills all rows but the last in chunks of at most
 * `chunkTokens`, then runs the last row alone, as the client's step did. Disputes are serialized, so
 * a burst of evidence costs one recomputation at a time.
 */
export function inProcessRecomputer(folder: string, chunkTokens = 256): StepRecomputer {
  let weights: Promise<ModelWeights> | undefined;
  const runtimes = new Map<string, Promise<BlockRuntime>>();
  let queue: Promise<unknown> = Promise.resolve();
  let next = 0;
  const runtimeFor = async (span: BlockSpan, rows: number): Promise<BlockRuntime> => {
    const key = `${span.start}-${span.end}`;
    let rt = runtimes.get(key);
    if (rt === undefined) {
      weights ??= resolveModel(folder).then((m) => openModelWeights(m.files, m.layout));
      const w = await weights;
      rt = createInThreadRuntime(ort, w, { blocks: span, backends: ['wasm'], threads: 1, maxSessionTokens: Math.max(rows, w.shape.maxSeqLen), cacheBudgetBytes: Number.MAX_SAFE_INTEGER });
      runtimes.set(key, rt);
      while (runtimes.size > maxLoadedSpans) {
        const [oldKey, old] = runtimes.entries().next().value ?? [];
        if (oldKey === undefined || old === undefined) break;
        runtimes.delete(oldKey);
        void old.then((r) => r.dispose()).catch(() => undefined);
      }
    } else {
      runtimes.delete(key);
      runtimes.set(key, rt);
    }
    return rt;
  };
  return (span, inputs, rows) => {
    const run = queue.then(async () => {
      const rt = await runtimeFor(span, rows);
      const d = inputs.length / rows;
      const sessionId = `dispute-${next++}`;
      await rt.openSession({ sessionId, blocks: span, maxLength: rows });
      try {
        for (let from = 0; from < rows - 1; from += chunkTokens) {
          const to = Math.min(rows - 1, from + chunkTokens);
          await rt.step(sessionId, inputs.slice(from * d, to * d));
        }
        return (await rt.step(sessionId, inputs.slice((rows - 1) * d))).hidden;
      } finally {
        await rt.closeSession(sessionId);
      }
    });
    queue = run.catch(() => undefined);
    return run;
  };
}
