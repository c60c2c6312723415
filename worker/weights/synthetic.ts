// Random weights of any Llama shape (seeded): the speed probe and benchmarks run real graphs without a download.
import type { ModelShape } from '../../core/model/index.ts';
import { mulberry32 } from '../../core/random/index.ts';
import type { BlockWeights, ModelWeights } from './types.ts';


/** A model of `shape` with uniform random weights scaled by 1/√fan-in (activations stay O(1)); same seed, same weights. */
export function syntheticWeights(shape: ModelShape, seed = 1): ModelWeights {
  const matrix = (rows: number, cols: number, s: number): Float32Array => {
    const rnd = mulberry32(s);
    const a = Math.sqrt(3 / cols);
    const m = new Float32Array(rows * cols);
    for (let i = 0; i < m.length; i++) m[i] = (rnd() * 2 - 1) * a;
    return m;
  };
  const norm = (n: number, s: number): Float32Array => {
    const rnd = mulberry32(s);
    return Float32Array.from({ length: n }, () => 1 + (rnd() - 0.5) * 0.2);
  };
  const d = shape.hiddenSize;
  const q = shape.numHeads * shape.headDim;
  const kv = shape.numKvHeads * shape.headDim;
  const base = (b: number): number => seed * 1000 + b * 16;
  return {
    shape,
    block: (b) => {
      const s = base(b);
      const w: BlockWeights = {
        attnNorm: norm(d, s),
        wq: matrix(q, d, s + 1),
        wk: matrix(kv, d, s + 2),
        wv: matrix(kv, d, s + 3),
        wo: matrix(d, q, s + 4),
        ffnNorm: norm(d, s + 5),
        wGate: matrix(shape.ffnSize, d, s + 6),
        wUp: matrix(shape.ffnSize, d, s + 7),
        wDown: matrix(d, shape.ffnSize, s + 8),
      };
      if (shape.qkNorm === true) {
        w.qNorm = norm(shape.headDim, s + 12);
        w.kNorm = norm(shape.headDim, s + 13);
      }
      if (shape.sandwichNorms === true) {
        w.postAttnNorm = norm(d, s + 14);
        w.postFfnNorm = norm(d, s + 15);
      }
      if (shape.attentionBias) {
        w.bq = matrix(1, q, s + 9);
        w.bk = matrix(1, kv, s + 10);
        w.bv = matrix(1, kv, s + 11);
      }
      return Promise.resolve(w);
    },
    embedding: () => Promise.resolve(matrix(shape.vocabSize, d, seed * 7 + 1)),
    finalNorm: () => Promise.resolve(norm(d, seed * 7 + 2)),
    lmHead: () => Promise.resolve(matrix(shape.vocabSize, d, shape.tiedEmbeddings ? seed * 7 + 1 : seed * 7 + 3)),
  };
}
