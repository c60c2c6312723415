// Next-token sampling: greedy, temperature, top-k, top-p, repetition penalty, seeded PRNG. Pure: no Node or DOM APIs.
import { RuntimeError } from '../errors.ts';

/** Sampling settings; temperature 0 means greedy (argmax). */
export interface SamplingParams {
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest set whose probability reaches p (1 = all). */
  topP: number;
  /** Divide positive logits (multiply negative ones) of tokens already seen by this (1 = off), as CTRL/HF do. */
  repetitionPenalty: number;
}

export const defaultSampling: SamplingParams = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };

/** A seeded uniform generator in [0, 1). */
export type Rng = () => number;

/** xorshift* as llama2.c's run.c uses it (seeded the same way), returning floats in [0, 1). */
export function seededRng(seed: number): Rng {
  let state = BigInt.asUintN(64, BigInt(Math.floor(seed)) || 1n);
  return () => {
    state ^= state >> 12n;
    state = BigInt.asUintN(64, state ^ (state << 25n));
    state ^= state >> 27n;
    const u32 = Number(BigInt.asUintN(64, state * 0x2545f4914f6cdd1dn) >> 32n);
    return (u32 >>> 8) / 16777216;
  };
}

/** Throws a RangeError naming the parameter when a setting is out of range. */
export function validateSampling(p: SamplingParams): void {
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature)) throw new RuntimeError('bad-input', `temperature must be ≥ 0 (got ${p.temperature})`);
  if (!Number.isInteger(p.topK) || p.topK < 0) throw new RuntimeError('bad-input', `top-k must be an integer ≥ 0 (got ${p.topK})`);
  if (!(p.topP > 0 && p.topP <= 1)) throw new RuntimeError('bad-input', `top-p must be in (0, 1] (got ${p.topP})`);
  if (!(p.repetitionPenalty > 0) || !Number.isFinite(p.repetitionPenalty)) throw new RuntimeError('bad-input', `repetition penalty must be > 0 (got ${p.repetitionPenalty})`);
}

/** Index of the largest value (first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] ?? -Infinity) > (values[best] ?? -Infinity)) best = i;
  return best;
}

/**
 * Picks the next token from one row of logits. `seen` are the ids the repetition penalty applies to
 * (prompt and generated so far). Does not modify `logits`.
 */
export function sampleToken(logits: ArrayLike<number>, params: SamplingParams, rng: Rng, seen: Iterable<number> = []): number {
  const x = Float64Array.from(logits);
  if (params.repetitionPenalty !== 1) {
    for (const id of new Set(seen)) {
      const v = x[id];
      if (v === undefined) continue;
      x[id] = v > 0 ? v / params.repetitionPenalty : v * params.repetitionPenalty;
    }
  }
  if (params.temperature === 0) return argmax(x);
  let order = Array.from(x.keys()).sort((a, b) => (x[b] ?? 0) - (x[a] ?? 0));
  if (params.topK > 0 && params.topK < order.length) order = order.slice(0, params.topK);
  const max = x[order[0] ?? 0] ?? 0;
  const probs = order.map((i) => Math.exp(((x[i] ?? 0) - max) / params.temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  if (params.topP < 1) {
    let acc = 0;
    let keep = probs.length;
    for (let i = 0; i < probs.length; i++) {
      acc += (probs[i] ?? 0) / sum;
      if (acc >= params.topP) {
        keep = i + 1;
        break;
      }
    }
    order = order.slice(0, keep);
    probs.length = keep;
    sum = probs.reduce((a, b) => a + b, 0);
  }
  let r = rng() * sum;
  for (let i = 0; i < order.length; i++) {
    r -= probs[i] ?? 0;
    if (r < 0) return order[i] ?? 0;
  }
  return order[order.length - 1] ?? 0;
}
