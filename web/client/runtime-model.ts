// Adapts worker/'s BlockRuntime (client parts) and sampling module to the ClientModel and Sampler a session uses.
import type { ModelShape } from '../../core/model/index.ts';
import type { HiddenStates } from '../../core/protocol/index.ts';
import { type BlockRuntime, sampleToken, seededRng, type SamplingParams } from '../../worker/index.ts';
import type { ClientModel, Sampler } from './session.ts';

/** Embedding and LM head of a runtime loaded with `client: true`. */
export function clientModelFromRuntime(rt: BlockRuntime, shape: ModelShape, maxSeqLen: number = shape.maxSeqLen): ClientModel {
  return {
    numBlocks: shape.numBlocks,
    hiddenSize: shape.hiddenSize,
    maxSeqLen,
    async embed(ids: number[]): Promise<HiddenStates> {
      const data = await rt.embed(Int32Array.from(ids));
      return { rows: ids.length, cols: shape.hiddenSize, data };
    },
    async head(hidden: HiddenStates): Promise<Float32Array> {
      const d = shape.hiddenSize;
      const last = hidden.data.slice((hidden.rows - 1) * d, hidden.rows * d);
      const logits = await rt.head(last);
      return logits.subarray(0, shape.vocabSize);
    },
  };
}

/** A sampler with worker/'s sampling rules and a seeded generator (temperature 0: greedy). */
export function samplerFor(params: SamplingParams, seed: number): Sampler {
  const rng = seededRng(seed);
  return (logits, seen) => sampleToken(logits, params, rng, seen);
}
