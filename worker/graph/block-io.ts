// Block graph inputs: their names, which position inputs a model's graphs take, and those inputs' values for a step.
import { blockAttentionOf, ropeDependsOnStep, ropeFrequencies, type BlockAttention, type ModelShape } from '../../core/model/index.ts';
import type { OpFlavour } from './graph-ops.ts';

/** Input/output names of a block-range graph; KV names are per block of the range (0 = first block of the range). */
export const blockIo = {
  hiddenIn: 'hidden_in',
  hiddenOut: 'hidden_out',
  /** GroupQueryAttention (see usesGqa): int32 [1], total length − 1. */
  seqlensK: 'seqlens_k',
  /** GroupQueryAttention: int32 scalar, past + new tokens. */
  totalLength: 'total_sequence_length',
  /** standard attention: rotary cos/sin for the new positions, [T, headDim/2]. */
  cos: 'rope_cos',
  sin: 'rope_sin',
  /** standard attention: additive causal mask [groups·T, past + T]. */
  mask: 'attn_mask',
  /** standard attention, models with sliding blocks: the causal mask limited to the window. */
  maskLocal: 'attn_mask_local',
  /** standard attention, models with a local rotary base (Gemma 3): the sliding blocks' cos/sin. */
  cosLocal: 'rope_cos_local',
  sinLocal: 'rope_sin_local',
  pastKey: (i: number) => `past_key_${i}`,
  pastValue: (i: number) => `past_value_${i}`,
  presentKey: (i: number) => `present_key_${i}`,
  presentValue: (i: number) => `present_value_${i}`,
} as const;

/**
 * Whether a block graph uses com.microsoft.GroupQueryAttention (with fused rotary): contrib flavour and a
 * head size the kernel accepts (onnxruntime's CPU kernel needs a multiple of 16). Otherwise attention is
 * built from standard ops (the norms stay fused). Decides which position inputs the graph takes.
 */
export function usesGqa(shape: ModelShape, ops: OpFlavour): boolean {
  return ops === 'contrib' && shape.headDim % 16 === 0 && !needsStandardAttention(shape);
}

/**
 * Families whose attention the fused kernel is not used for: sliding windows and logit soft-capping
 * (onnxruntime-web's WebGPU GroupQueryAttention refuses local_window_size and softcap) are built as
 * masks and ops we control, and step-dependent rotary (longrope) or two rotary bases (Gemma 3) need
 * tables fed per step.
 */
function needsStandardAttention(shape: ModelShape): boolean {
  return shape.slidingWindow !== undefined || shape.attentionSoftcap !== undefined || shape.localRopeTheta !== undefined || ropeDependsOnStep(shape);
}

/** Whether any block of the model slides (then the standard graph takes a second, windowed mask). */
export function hasSlidingBlocks(shape: ModelShape): boolean {
  return Array.from({ length: shape.numBlocks }, (_, b) => blockAttentionOf(shape, b)).includes('sliding');
}

/**
 * Rotary cos/sin tables [positions, headDim/2] for positions fromPos … fromPos+count−1, one step
 * (θ_i = theta^(−2i/headDim), rescaled as the shape's rope_scaling says), as llama2.c and Hugging Face
 * compute them. `attention` picks the sliding blocks' tables where they differ (Gemma 3).
 */
export function rotaryTables(shape: ModelShape, fromPos: number, count: number, attention: BlockAttention = 'full'): { cos: Float32Array; sin: Float32Array } {
  const half = shape.headDim / 2;
  const { invFreq, cosSinFactor } = ropeFrequencies(shape, attention, fromPos + count);
  const cos = new Float32Array(count * half);
  const sin = new Float32Array(count * half);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < half; i++) {
      const a = (fromPos + p) * (invFreq[i] ?? 0);
      cos[p * half + i] = Math.cos(a) * cosSinFactor;
      sin[p * half + i] = Math.sin(a) * cosSinFactor;
    }
  }
  return { cos, sin };
}

/** A position input of a block graph: int32 lengths, or float values to feed in the compute type. */
export interface PositionInput {
  data: Float32Array | Int32Array;
  dims: number[];
}

/**
 * The position inputs a block-range graph takes for a step of T new tokens after `past` cached ones
 * (the same set for every block range of a model): seqlens/total for GroupQueryAttention, or rotary
 * tables and additive masks (−∞ as `maskValue`) for standard attention.
 */
export function positionInputs(shape: ModelShape, ops: OpFlavour, past: number, T: number, maskValue: number): Record<string, PositionInput> {
  const total = past + T;
  if (usesGqa(shape, ops)) {
    return {
      [blockIo.seqlensK]: { data: new Int32Array([total - 1]), dims: [1] },
      [blockIo.totalLength]: { data: new Int32Array([total]), dims: [] },
    };
  }
  const half = shape.headDim / 2;
  const groups = shape.numHeads / shape.numKvHeads;
  const mask = (window: number): Float32Array => {
    const m = new Float32Array(groups * T * total);
    for (let g = 0; g < groups; g++) {
      for (let t = 0; t < T; t++) {
        const row = (g * T + t) * total;
        const pos = past + t;
        for (let j = 0; j < total; j++) if (j > pos || pos - j >= window) m[row + j] = maskValue;
      }
    }
    return m;
  };
  const { cos, sin } = rotaryTables(shape, past, T);
  const out: Record<string, PositionInput> = {
    [blockIo.cos]: { data: cos, dims: [T, half] },
    [blockIo.sin]: { data: sin, dims: [T, half] },
    [blockIo.mask]: { data: mask(Infinity), dims: [groups * T, total] },
  };
  if (hasSlidingBlocks(shape)) out[blockIo.maskLocal] = { data: mask(shape.slidingWindow ?? Infinity), dims: [groups * T, total] };
  if (shape.localRopeTheta !== undefined) {
    const local = rotaryTables(shape, past, T, 'sliding');
    out[blockIo.cosLocal] = { data: local.cos, dims: [T, half] };
    out[blockIo.sinLocal] = { data: local.sin, dims: [T, half] };
  }
  return out;
}
