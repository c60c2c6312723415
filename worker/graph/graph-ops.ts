// Small operator compositions the graphs share: scalar constants, RMSNorm, GELU (tanh), soft-capping, rotary embeddings.
import type { ModelShape } from '../../core/model/index.ts';
import { toHalfArray } from '../weights/index.ts';
import type { ElemTypeName, GraphBuilder } from './onnx-builder.ts';

/**
 * Which operators a graph uses: 'contrib' = the fused com.microsoft kernels that are fastest on WebGPU
 * (GroupQueryAttention with rotary, SkipSimplifiedLayerNormalization, MatMulNBits for q4);
 * 'standard' = plain ONNX ops only (for execution providers without those kernels, and as a cross-check).
 */
export type OpFlavour = 'contrib' | 'standard';

/** A scalar constant in the compute type (names made unique by the bytes written so far). */
export function scalar(g: GraphBuilder, name: string, value: number, type: ElemTypeName): string {
  const n = `${name}_${g.initializerBytes}`;
  return type === 'float16' ? g.init(n, 'float16', [], toHalfArray(new Float32Array([value]))) : g.init(n, 'float32', [], new Float32Array([value]));
}

/** RMSNorm over the last axis in plain ONNX ops: x / √(mean(x²) + ε) · weight. */
export function rmsNormStandard(g: GraphBuilder, x: string, weight: string, eps: number, type: ElemTypeName): string {
  const sq = g.op('Mul', [x, x]);
  const ms = g.op('ReduceMean', [sq], { axes: [-1], keepdims: 1 });
  const epsT = scalar(g, 'eps', eps, type);
  const rms = g.op('Sqrt', [g.op('Add', [ms, epsT])]);
  return g.op('Mul', [g.op('Div', [x, rms]), weight]);
}

/** RMSNorm over the last axis, fused where the flavour allows. */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number, type: ElemTypeName, ops: OpFlavour): string {
  return ops === 'contrib'
    ? g.op('SimplifiedLayerNormalization', [x, weight], { axis: -1, epsilon: { float: eps }, stash_type: 1 })
    : rmsNormStandard(g, x, weight, eps, type);
}

/** GELU, tanh approximation (Hugging Face gelu_pytorch_tanh): x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))). */
export function geluTanh(g: GraphBuilder, x: string, type: ElemTypeName): string {
  const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [x3, scalar(g, 'gelu_c', 0.044715, type)])]), scalar(g, 'gelu_k', Math.sqrt(2 / Math.PI), type)]);
  const onePlus = g.op('Add', [g.op('Tanh', [inner]), scalar(g, 'one', 1, type)]);
  return g.op('Mul', [g.op('Mul', [x, scalar(g, 'half', 0.5, type)]), onePlus]);
}

/** cap · tanh(x / cap) (Gemma 2's soft-capping of attention and final logits). */
export function softcap(g: GraphBuilder, x: string, cap: number, type: ElemTypeName): string {
  const c = scalar(g, 'softcap', cap, type);
  return g.op('Mul', [g.op('Tanh', [g.op('Div', [x, c])]), c]);
}

/** Applies rotary embeddings to x [1, heads, T, headDim] with cos/sin [T, headDim/2] (standard ops). */
export function ropeStandard(g: GraphBuilder, x: string, heads: number, shape: ModelShape, cos: string, sin: string, c: Consts): string {
  const half = shape.headDim / 2;
  if (shape.ropeStyle === 'rotate-half') {
    const [x1, x2] = g.node('Split', [x, c.splitHalves], 2, { axis: 3 }) as [string, string];
    const a = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
    const b = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
    return g.op('Concat', [a, b], { axis: 3 });
  }
  // Interleaved pairs (2i, 2i+1): view as [1, heads, T, half, 2].
  const pairs = g.op('Reshape', [x, g.ints(`pairs_shape_${heads}_${g.initializerBytes}`, [1, heads, -1, half, 2])]);
  const [x1, x2] = g.node('Split', [pairs, c.splitPairs], 2, { axis: 4 }) as [string, string];
  const cos3 = g.op('Unsqueeze', [cos, c.lastAxis]);
  const sin3 = g.op('Unsqueeze', [sin, c.lastAxis]);
  const a = g.op('Sub', [g.op('Mul', [x1, cos3]), g.op('Mul', [x2, sin3])]);
  const b = g.op('Add', [g.op('Mul', [x2, cos3]), g.op('Mul', [x1, sin3])]);
  const joined = g.op('Concat', [a, b], { axis: 4 });
  return g.op('Reshape', [joined, g.ints(`unpairs_shape_${heads}_${g.initializerBytes}`, [1, heads, -1, shape.headDim])]);
}

/** Shared constant tensors of a graph the standard-ops rotary reads. */
export interface Consts {
  splitHalves: string;
  splitPairs: string;
  lastAxis: string;
}
