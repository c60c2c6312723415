// Rotary frequencies of a block: the base theta, rescaled as the config's rope_scaling says (pure math, no tables).
import { type BlockAttention, type ModelShape } from './shape.ts';

/** Rotary frequencies of one kind of block for one step. */
export interface RopeFrequencies {
  /** inv_freq_i in radians per position, i < headDim/2. */
  invFreq: Float64Array;
  /** Factor on cos and sin (longrope's attention factor; 1 otherwise). */
  cosSinFactor: number;
}

/**
 * Rotary frequencies for blocks of `attention` kind in a step whose last position is `stepEndPositions − 1`
 * (longrope switches to its long factors once a step reaches `originalMaxPositions`, as Hugging Face does).
 * Sliding blocks of a model with `localRopeTheta` use that base, unscaled (Gemma 3).
 */
export function ropeFrequencies(s: ModelShape, attention: BlockAttention, stepEndPositions: number): RopeFrequencies {
  const half = s.headDim / 2;
  const local = attention === 'sliding' && s.localRopeTheta !== undefined;
  const theta = local ? (s.localRopeTheta ?? s.ropeTheta) : s.ropeTheta;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / theta ** ((2 * i) / s.headDim);
  const r = local ? undefined : s.ropeScaling;
  if (r === undefined) return { invFreq, cosSinFactor: 1 };
  switch (r.kind) {
    case 'linear':
      return { invFreq: invFreq.map((f) => f / r.factor), cosSinFactor: 1 };
    case 'llama3': {
      // Wavelengths (positions per turn) longer than the pretraining context/lowFreqFactor are stretched by
      // `factor`; shorter than context/highFreqFactor are kept; in between the two are blended smoothly.
      const lowWavelen = r.originalMaxPositions / r.lowFreqFactor;
      const highWavelen = r.originalMaxPositions / r.highFreqFactor;
      const out = invFreq.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highWavelen) return f;
        if (wavelen > lowWavelen) return f / r.factor;
        const smooth = (r.originalMaxPositions / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
        return (1 - smooth) * (f / r.factor) + smooth * f;
      });
      return { invFreq: out, cosSinFactor: 1 };
    }
    case 'longrope': {
      const ext = stepEndPositions > r.originalMaxPositions ? r.longFactor : r.shortFactor;
      return { invFreq: invFreq.map((f, i) => f / (ext[i] ?? 1)), cosSinFactor: r.attentionFactor };
    }
    default: {
      const never: never = r;
      return never;
    }
  }
}

/** True when rotary tables depend on the step, not only on positions (longrope), so they cannot be one fixed cache. */
export function ropeDependsOnStep(s: ModelShape): boolean {
  return s.ropeScaling?.kind === 'longrope';
}
