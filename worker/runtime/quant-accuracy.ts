// How far quantized weights move a model's next-token predictions from fp32: top-1 agreement and logit error over many contexts.
import type { WeightPrecision } from '../../core/model/index.ts';
import { mulberry32 } from '../../core/random/index.ts';
import type { ModelWeights } from '../weights/index.ts';
import type { Ort } from './backend.ts';
import { createInThreadRuntime } from './in-thread.ts';
import type { BlockRuntime } from './types.ts';

/** Agreement of one precision with fp32 over every position of every context. */
export interface QuantAccuracy {
  precision: WeightPrecision;
  /** Positions compared (contexts × tokens). */
  positions: number;
  /** Share of positions where the most likely next token is the same as fp32's, 0..1. */
  top1Agreement: number;
  /** Mean over positions of max |logit − fp32 logit|, in logits. */
  meanMaxLogitError: number;
  /** Largest |logit − fp32 logit| seen, in logits. */
  maxLogitError: number;
  /** Mean standard deviation of fp32 logits at a position, in logits (the scale errors compare to). */
  meanLogitStd: number;
}

async function allLogits(rt: BlockRuntime, ids: Int32Array, numBlocks: number): Promise<Float32Array> {
  await rt.openSession({ sessionId: 'acc', blocks: { start: 0, end: numBlocks }, maxLength: ids.length });
  try {
    const hidden = (await rt.step('acc', await rt.embed(ids))).hidden;
    return await rt.head(hidden);
  } finally {
    await rt.closeSession('acc');
  }
}

function argmax(v: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if ((v[from + i] ?? -Infinity) > (v[from + best] ?? -Infinity)) best = i;
  return best;
}

/**
 * Samples `contexts` token sequences of `tokens` from the fp32 model (temperature 1, seeded, so the
 * contexts look like the model's own text), then compares every position's logits under each precision
 * with fp32's. One runtime at a time (memory); wasm, one thread.
 */
export async function measureQuantAccuracy(ort: Ort, weights: ModelWeights, precisions: WeightPrecision[], contexts: number, tokens: number, seed = 1): Promise<QuantAccuracy[]> {
  const shape = weights.shape;
  const v = shape.vocabSize;
  const open = (precision: WeightPrecision): Promise<BlockRuntime> => createInThreadRuntime(ort, weights, {
    blocks: { start: 0, end: shape.numBlocks }, client: true, precision, backends: ['wasm'], threads: 1, maxSessionTokens: tokens, cacheBudgetBytes: Number.MAX_SAFE_INTEGER,
  });
  const rnd = mulberry32(seed);
  const fp32 = await open('fp32');
  const seqs: Int32Array[] = [];
  const refs: Float32Array[] = [];
  try {
    for (let c = 0; c < contexts; c++) {
      const ids = [1 + Math.floor(rnd() * (v - 1))];
      await fp32.openSession({ sessionId: 'gen', blocks: { start: 0, end: shape.numBlocks }, maxLength: tokens });
      let hidden = (await fp32.step('gen', await fp32.embed(Int32Array.from(ids)))).hidden;
      while (ids.length < tokens) {
        const logits = await fp32.head(hidden);
        let max = -Infinity;
        for (const x of logits) max = Math.max(max, x);
        let sum = 0;
        const p = logits.map((x) => Math.exp(x - max));
        for (const x of p) sum += x;
        let r = rnd() * sum;
        let next = v - 1;
        for (let i = 0; i < v; i++) {
          r -= p[i] ?? 0;
          if (r <= 0) {
            next = i;
            break;
          }
        }
        ids.push(next);
        hidden = (await fp32.step('gen', await fp32.embed(Int32Array.from([next])))).hidden;
      }
      await fp32.closeSession('gen');
      const seq = Int32Array.from(ids);
      seqs.push(seq);
      refs.push(await allLogits(fp32, seq, shape.numBlocks));
    }
  } finally {
    await fp32.dispose();
  }
  const out: QuantAccuracy[] = [];
  for (const precision of precisions) {
    const rt = await open(precision);
    let agree = 0;
    let positions = 0;
    let sumMax = 0;
    let maxErr = 0;
    let sumStd = 0;
    try {
      for (let c = 0; c < seqs.length; c++) {
        const seq = seqs[c] ?? new Int32Array();
        const ref = refs[c] ?? new Float32Array();
        const got = await allLogits(rt, seq, shape.numBlocks);
        for (let t = 0; t < seq.length; t++) {
          const o = t * v;
          if (argmax(ref, o, v) === argmax(got, o, v)) agree++;
          let m = 0;
          let mean = 0;
          for (let i = 0; i < v; i++) {
            m = Math.max(m, Math.abs((got[o + i] ?? 0) - (ref[o + i] ?? 0)));
            mean += ref[o + i] ?? 0;
          }
          mean /= v;
          let varSum = 0;
          for (let i = 0; i < v; i++) varSum += ((ref[o + i] ?? 0) - mean) ** 2;
          sumStd += Math.sqrt(varSum / v);
          sumMax += m;
          maxErr = Math.max(maxErr, m);
          positions++;
        }
      }
    } finally {
      await rt.dispose();
    }
    out.push({ precision, positions, top1Agreement: agree / positions, meanMaxLogitError: sumMax / positions, maxLogitError: maxErr, meanLogitStd: sumStd / positions });
  }
  return out;
}
