// How close two volunteers' outputs of one step must be to count as the same result: a tolerance measured across backends.

/**
 * The tolerance a checked step is held to: outputs `a` (the checked volunteer's) and `b` (the
 * second volunteer's, or the coordinator's recomputation) agree when every element satisfies
 * |aᵢ − bᵢ| ≤ `absolute` + `relative` · max|b| (max over the whole row block). Scale-relative, since
 * hidden states grow through the blocks; the figures come from docs/security.md ("Verified results").
 */
export interface VerifyTolerance {
  /** Floor of the allowed difference, in hidden-state units. */
  absolute: number;
  /** Allowed difference as a share of the reference's largest magnitude. */
  relative: number;
}

/**
 * Measured (docs/security.md): wasm vs WebGPU (SwiftShader) on stories260K and tiny random models
 * differ by at most 8.5e-7 relative to the row's largest magnitude and 6.9e-6 absolute; wasm graphs
 * and thread counts in Node agree bit for bit. This allows about 25× that (2e-5 relative + 2e-5
 * absolute) and stays below the smallest token-flipping perturbation measured (8.8e-5 relative).
 * fp16 weights are not served here (SwiftShader has no shader-f16): they would need their own.
 */
export const defaultVerifyTolerance: VerifyTolerance = { absolute: 2e-5, relative: 2e-5 };

/**
 * The tolerance for sessions whose hidden states travel as fp16: two honest outputs that differ by
 * ~1e-6 may round to neighbouring halves, one fp16 step apart (2^-10 of the value, ≤ 2^-10 of the
 * row's largest magnitude), so the relative part is twice that step.
 */
export const fp16WireVerifyTolerance: VerifyTolerance = { absolute: 2e-5, relative: 2 * 2 ** -10 };

/** The tolerance a session of wire precision `dtype` is checked with. */
export function toleranceFor(dtype: 'fp32' | 'fp16', base: VerifyTolerance = defaultVerifyTolerance): VerifyTolerance {
  return dtype === 'fp16' ? { absolute: Math.max(base.absolute, fp16WireVerifyTolerance.absolute), relative: Math.max(base.relative, fp16WireVerifyTolerance.relative) } : base;
}

/** How two outputs compare. */
export interface OutputComparison {
  /** Largest |aᵢ − bᵢ|. */
  maxAbsDiff: number;
  /** maxAbsDiff / max|bᵢ| (0 when b is all zeros and so is the difference). */
  maxRelDiff: number;
  /** Whether they agree within the tolerance. */
  within: boolean;
}

/** Compares output `a` against reference `b` (same length; a length mismatch never agrees). */
export function compareOutputs(a: Float32Array, b: Float32Array, tolerance: VerifyTolerance = defaultVerifyTolerance): OutputComparison {
  if (a.length !== b.length) return { maxAbsDiff: Infinity, maxRelDiff: Infinity, within: false };
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    scale = Math.max(scale, Math.abs(y));
    const d = Math.abs(x - y);
    // NaN never agrees.
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
  }
  const maxRelDiff = scale > 0 ? diff / scale : diff > 0 ? Infinity : 0;
  return { maxAbsDiff: diff, maxRelDiff, within: diff <= tolerance.absolute + tolerance.relative * scale };
}
