// Adapts worker/'s BlockRuntime (client parts) to the ClientModel a session uses.
import type { ModelShape } from '../../core/model/index.ts';
import type { HiddenStates } from '../../core/protocol/index.ts';
import type { BlockRuntime } from '../../worker/index.ts';
import type { ClientModel } from './session-types.ts';

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
