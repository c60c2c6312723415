// ONNX graphs of the Llama family: a range of decoder blocks (one session), the token embedding and the LM head.
import type { ModelShape, WeightPrecision } from '../../core/model/index.ts';
import { toHalfArray } from '../weights/float16.ts';
import type { BlockWeights } from '../weights/types.ts';
import { GraphBuilder, type ElemTypeName } from './onnx-builder.ts';
import { quantizeQ4, quantizeQ8, q4BlockSize } from './quantize.ts';

/**
 * Which operators a graph uses: 'contrib' = the fused com.microsoft kernels that are fastest on WebGPU
 * (GroupQueryAttention with rotary, SkipSimplifiedLayerNormalization, MatMulNBits for q4);
 * 'standard' = plain ONNX ops only (for execution providers without those kernels, and as a cross-check).
 */
export type OpFlavour = 'contrib' | 'standard';

/** How a graph is built. */
export interface GraphOptions {
  /** Weight precision: fp32, fp16 (then activations and KV cache are fp16 too), q8 (DynamicQuantizeMatMul) or q4 (MatMulNBits); q8/q4 keep fp32 activations. */
  precision: WeightPrecision;
  ops: OpFlavour;
}

/**
 * Whether a block graph uses com.microsoft.GroupQueryAttention (with fused rotary): contrib flavour and a
 * head size the kernel accepts (onnxruntime's CPU kernel needs a multiple of 16). Otherwise attention is
 * built from standard ops (the norms stay fused). Decides which position inputs the graph takes.
 */
export function usesGqa(shape: ModelShape, ops: OpFlavour): boolean {
  return ops === 'contrib' && shape.headDim % 16 === 0;
}

/** The element type of activations and KV cache for a precision. */
export function computeType(precision: WeightPrecision): ElemTypeName {
  return precision === 'fp16' ? 'float16' : 'float32';
}

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
  pastKey: (i: number) => `past_key_${i}`,
  pastValue: (i: number) => `past_value_${i}`,
  presentKey: (i: number) => `present_key_${i}`,
  presentValue: (i: number) => `present_value_${i}`,
} as const;

/** A built graph and what it holds. */
export interface BuiltGraph {
  bytes: Uint8Array;
  /** Bytes of its model weights as stored in the graph (shape constants and rotary tables excluded). */
  weightBytes: number;
}

class WeightWriter {
  /** Bytes of model weights written (constants such as shapes and rotary tables are not counted). */
  bytes = 0;
  constructor(readonly g: GraphBuilder, readonly precision: WeightPrecision) {}

  /** Runs `add` and counts the initializer bytes it added as weights. */
  private weigh<T>(add: () => T): T {
    const before = this.g.initializerBytes;
    const out = add();
    this.bytes += this.g.initializerBytes - before;
    return out;
  }

  private get type(): ElemTypeName {
    return computeType(this.precision);
  }

  /** A 1-D vector in the compute type. */
  vector(name: string, v: Float32Array): string {
    return this.weigh(() => this.type === 'float16' ? this.g.init(name, 'float16', [v.length], toHalfArray(v)) : this.g.init(name, 'float32', [v.length], v));
  }

  /**
   * y = x · Wᵀ (+ b) for W [n, k] row-major. `x2d`: x is [rows, k], so Gemm with transB can use W as
   * stored (no transposed copy: the LM head of a large vocabulary is the biggest matrix of all).
   */
  linear(x: string, name: string, w: Float32Array, n: number, k: number, bias?: Float32Array, x2d = false): string {
    let y: string;
    if (this.precision === 'q8') {
      // x may be [T, k] or [1, T, k]: DynamicQuantizeMatMul is a MatMul, so both work.
      const q = quantizeQ8(w, n, k);
      const b = this.weigh(() => this.g.init(`${name}.q8`, 'int8', [k, n], q.values));
      const s = this.weigh(() => this.g.init(`${name}.scales`, 'float32', [n], q.scales));
      y = this.g.op('DynamicQuantizeMatMul', [x, b, s], {}, 'com.microsoft');
      return bias === undefined ? y : this.g.op('Add', [y, this.vector(`${name}.bias`, bias)]);
    }
    if (x2d && this.precision !== 'q4') {
      const init = this.weigh(() => this.type === 'float16' ? this.g.init(`${name}.W`, 'float16', [n, k], toHalfArray(w)) : this.g.init(`${name}.W`, 'float32', [n, k], w));
      const inputs = bias === undefined ? [x, init] : [x, init, this.vector(`${name}.bias`, bias)];
      return this.g.op('Gemm', inputs, { transB: 1 });
    }
    if (this.precision === 'q4') {
      const q = quantizeQ4(w, n, k);
      const blocks = Math.ceil(k / q4BlockSize);
      const b = this.weigh(() => this.g.init(`${name}.q4`, 'uint8', [n, blocks, q4BlockSize / 2], q.packed));
      const s = this.weigh(() => this.g.init(`${name}.scales`, 'float32', [n * blocks], q.scales));
      y = this.g.op('MatMulNBits', [x, b, s], { K: k, N: n, bits: 4, block_size: q4BlockSize }, 'com.microsoft');
    } else {
      const t = transpose(w, n, k);
      const init = this.weigh(() => this.type === 'float16'
        ? this.g.init(`${name}.T`, 'float16', [k, n], toHalfArray(t))
        : this.g.init(`${name}.T`, 'float32', [k, n], t));
      y = this.g.op('MatMul', [x, init]);
    }
    return bias === undefined ? y : this.g.op('Add', [y, this.vector(`${name}.bias`, bias)]);
  }
}

function transpose(w: Float32Array, n: number, k: number): Float32Array {
  const t = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) t[c * n + r] = w[r * k + c] ?? 0;
  return t;
}

/** Rotary cos/sin tables [positions, headDim/2] (θ_i = theta^(−2i/headDim)), as llama2.c and Hugging Face compute them. */
export function rotaryTables(shape: ModelShape, fromPos: number, count: number): { cos: Float32Array; sin: Float32Array } {
  const half = shape.headDim / 2;
  const cos = new Float32Array(count * half);
  const sin = new Float32Array(count * half);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < half; i++) {
      const freq = 1 / shape.ropeTheta ** ((2 * i) / shape.headDim);
      const a = (fromPos + p) * freq;
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

function rmsNormStandard(g: GraphBuilder, x: string, weight: string, eps: number, type: ElemTypeName): string {
  const sq = g.op('Mul', [x, x]);
  const ms = g.op('ReduceMean', [sq], { axes: [-1], keepdims: 1 });
  const epsT = type === 'float16' ? g.init(`eps_${g.initializerBytes}`, 'float16', [], toHalfArray(new Float32Array([eps]))) : g.init(`eps_${g.initializerBytes}`, 'float32', [], new Float32Array([eps]));
  const rms = g.op('Sqrt', [g.op('Add', [ms, epsT])]);
  return g.op('Mul', [g.op('Div', [x, rms]), weight]);
}

/** Applies rotary embeddings to x [1, heads, T, headDim] with cos/sin [T, headDim/2] (standard ops). */
function ropeStandard(g: GraphBuilder, x: string, heads: number, shape: ModelShape, cos: string, sin: string, c: Consts): string {
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

interface Consts {
  splitHalves: string;
  splitPairs: string;
  lastAxis: string;
}

/**
 * Builds one session's graph for `weights.length` consecutive blocks.
 * Inputs: hidden_in float32 [1, T, hidden], per block past_key_i/past_value_i [1, kvHeads, P, headDim]
 * (compute type), and the position inputs of the flavour (see blockIo). Outputs: hidden_out float32
 * [1, T, hidden] and present_key_i/present_value_i [1, kvHeads, P + T, headDim].
 * `maxPositions` sizes the rotary tables of the contrib flavour.
 */
export function buildBlockRangeGraph(shape: ModelShape, weights: BlockWeights[], opts: GraphOptions & { maxPositions: number; name?: string }): BuiltGraph {
  const g = new GraphBuilder(opts.name ?? 'blocks');
  const type = computeType(opts.precision);
  const ww = new WeightWriter(g, opts.precision);
  const d = shape.hiddenSize;
  const hd = shape.headDim;
  const H = shape.numHeads;
  const kvH = shape.numKvHeads;
  const eps = shape.rmsNormEps;

  const hiddenIn = g.input(blockIo.hiddenIn, 'float32', [1, 'T', d]);
  let x = type === 'float16' ? g.op('Cast', [hiddenIn], { to: 10 }) : hiddenIn;

  let seqlensK = '';
  let totalLen = '';
  let cosCache = '';
  let sinCache = '';
  let cosIn = '';
  let sinIn = '';
  let mask = '';
  const consts: Consts = { splitHalves: '', splitPairs: '', lastAxis: '' };
  const gqa = usesGqa(shape, opts.ops);
  let shapeQ = '';
  let shapeKv = '';
  let shapeGrouped = '';
  let shapeHeads = '';
  let shapeFlat = '';
  if (gqa) {
    seqlensK = g.input(blockIo.seqlensK, 'int32', [1]);
    totalLen = g.input(blockIo.totalLength, 'int32', []);
    const { cos, sin } = rotaryTables(shape, 0, opts.maxPositions);
    cosCache = type === 'float16' ? g.init('cos_cache', 'float16', [opts.maxPositions, hd / 2], toHalfArray(cos)) : g.init('cos_cache', 'float32', [opts.maxPositions, hd / 2], cos);
    sinCache = type === 'float16' ? g.init('sin_cache', 'float16', [opts.maxPositions, hd / 2], toHalfArray(sin)) : g.init('sin_cache', 'float32', [opts.maxPositions, hd / 2], sin);
  } else {
    cosIn = g.input(blockIo.cos, type, ['T', hd / 2]);
    sinIn = g.input(blockIo.sin, type, ['T', hd / 2]);
    mask = g.input(blockIo.mask, type, ['GT', 'S']);
    consts.splitHalves = g.ints('split_halves', [hd / 2, hd / 2]);
    consts.splitPairs = g.ints('split_pairs', [1, 1]);
    consts.lastAxis = g.ints('last_axis', [-1]);
    shapeQ = g.ints('shape_q', [1, -1, H, hd]);
    shapeKv = g.ints('shape_kv', [1, -1, kvH, hd]);
    shapeGrouped = g.ints('shape_grouped', [1, kvH, -1, hd]);
    shapeHeads = g.ints('shape_heads', [1, H, -1, hd]);
    shapeFlat = g.ints('shape_flat', [1, -1, H * hd]);
  }

  let pendingDown = '';
  let residual = x;
  weights.forEach((w, i) => {
    const p = `b${i}`;
    const pastK = g.input(blockIo.pastKey(i), type, [1, kvH, 'P', hd]);
    const pastV = g.input(blockIo.pastValue(i), type, [1, kvH, 'P', hd]);
    const attnNorm = ww.vector(`${p}.attn_norm`, w.attnNorm);
    const ffnNorm = ww.vector(`${p}.ffn_norm`, w.ffnNorm);
    let h: string;
    if (opts.ops === 'contrib') {
      if (i === 0) {
        h = g.op('SimplifiedLayerNormalization', [x, attnNorm], { axis: -1, epsilon: { float: eps }, stash_type: 1 });
      } else {
        const [normed, , , sum] = g.node('SkipSimplifiedLayerNormalization', [pendingDown, residual, attnNorm], [`${p}.h`, '', '', `${p}.x`], { epsilon: { float: eps } }, 'com.microsoft') as [string, string, string, string];
        h = normed;
        residual = sum;
      }
    } else {
      if (i > 0) residual = g.op('Add', [pendingDown, residual]);
      h = rmsNormStandard(g, residual, attnNorm, eps, type);
    }
    const q = ww.linear(h, `${p}.wq`, w.wq, H * hd, d, w.bq);
    const k = ww.linear(h, `${p}.wk`, w.wk, kvH * hd, d, w.bk);
    const v = ww.linear(h, `${p}.wv`, w.wv, kvH * hd, d, w.bv);
    let attn: string;
    if (gqa) {
      const [out] = g.node(
        'GroupQueryAttention',
        [q, k, v, pastK, pastV, seqlensK, totalLen, cosCache, sinCache],
        [`${p}.attn`, blockIo.presentKey(i), blockIo.presentValue(i)],
        { num_heads: H, kv_num_heads: kvH, scale: { float: 1 / Math.sqrt(hd) }, do_rotary: 1, rotary_interleaved: shape.ropeStyle === 'interleaved' ? 1 : 0 },
        'com.microsoft',
      ) as [string];
      attn = out;
    } else {
      const qh = g.op('Transpose', [g.op('Reshape', [q, shapeQ])], { perm: [0, 2, 1, 3] });
      const kh = g.op('Transpose', [g.op('Reshape', [k, shapeKv])], { perm: [0, 2, 1, 3] });
      const vh = g.op('Transpose', [g.op('Reshape', [v, shapeKv])], { perm: [0, 2, 1, 3] });
      const qr = ropeStandard(g, qh, H, shape, cosIn, sinIn, consts);
      const kr = ropeStandard(g, kh, kvH, shape, cosIn, sinIn, consts);
      const [presentK] = g.node('Concat', [pastK, kr], [blockIo.presentKey(i)], { axis: 2 }) as [string];
      const [presentV] = g.node('Concat', [pastV, vh], [blockIo.presentValue(i)], { axis: 2 }) as [string];
      // Query heads of one KV head are adjacent: [1, H, T, hd] → [1, kvH, groups·T, hd] is a plain reshape.
      const qg = g.op('Reshape', [qr, shapeGrouped]);
      const scores = g.op('MatMul', [qg, g.op('Transpose', [presentK], { perm: [0, 1, 3, 2] })]);
      const scaleT = type === 'float16' ? g.init(`${p}.scale`, 'float16', [], toHalfArray(new Float32Array([1 / Math.sqrt(hd)]))) : g.init(`${p}.scale`, 'float32', [], new Float32Array([1 / Math.sqrt(hd)]));
      const probs = g.op('Softmax', [g.op('Add', [g.op('Mul', [scores, scaleT]), mask])], { axis: -1 });
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, presentV]), shapeHeads]);
      attn = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), shapeFlat]);
    }
    const o = ww.linear(attn, `${p}.wo`, w.wo, d, H * hd);
    let h2: string;
    if (opts.ops === 'contrib') {
      const [normed, , , sum] = g.node('SkipSimplifiedLayerNormalization', [o, residual, ffnNorm], [`${p}.h2`, '', '', `${p}.x2`], { epsilon: { float: eps } }, 'com.microsoft') as [string, string, string, string];
      h2 = normed;
      residual = sum;
    } else {
      residual = g.op('Add', [o, residual]);
      h2 = rmsNormStandard(g, residual, ffnNorm, eps, type);
    }
    const gate = ww.linear(h2, `${p}.w_gate`, w.wGate, shape.ffnSize, d);
    const up = ww.linear(h2, `${p}.w_up`, w.wUp, shape.ffnSize, d);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    pendingDown = ww.linear(act, `${p}.w_down`, w.wDown, d, shape.ffnSize);
    g.output(blockIo.presentKey(i), type, [1, kvH, 'S', hd]);
    g.output(blockIo.presentValue(i), type, [1, kvH, 'S', hd]);
    x = residual;
  });
  const sum = g.op('Add', [pendingDown, residual]);
  if (type === 'float16') g.node('Cast', [sum], [blockIo.hiddenOut], { to: 1 });
  else g.node('Identity', [sum], [blockIo.hiddenOut]);
  g.output(blockIo.hiddenOut, 'float32', [1, 'T', d]);
  return { bytes: g.toBytes(), weightBytes: ww.bytes };
}

/** Names of the client graphs' inputs and outputs. */
export const clientIo = { ids: 'input_ids', embeddings: 'embeddings', hidden: 'hidden', logits: 'logits' } as const;

/** Token embedding: input_ids int64 [N] → embeddings float32 [N, hidden]. */
export function buildEmbeddingGraph(shape: ModelShape, embedding: Float32Array): BuiltGraph {
  const g = new GraphBuilder('embed');
  g.input(clientIo.ids, 'int64', ['N']);
  const table = g.init('embed_tokens', 'float32', [shape.vocabSize, shape.hiddenSize], embedding);
  g.node('Gather', [table, clientIo.ids], [clientIo.embeddings], { axis: 0 });
  g.output(clientIo.embeddings, 'float32', ['N', shape.hiddenSize]);
  return { bytes: g.toBytes(), weightBytes: g.initializerBytes };
}

/** Final RMSNorm + LM head: hidden float32 [N, hidden] → logits float32 [N, vocab]. */
export function buildHeadGraph(shape: ModelShape, finalNorm: Float32Array, lmHead: Float32Array, opts: GraphOptions): BuiltGraph {
  const g = new GraphBuilder('head');
  const type = computeType(opts.precision);
  const ww = new WeightWriter(g, opts.precision);
  const hidden = g.input(clientIo.hidden, 'float32', ['N', shape.hiddenSize]);
  const x = type === 'float16' ? g.op('Cast', [hidden], { to: 10 }) : hidden;
  const norm = ww.vector('final_norm', finalNorm);
  const h = opts.ops === 'contrib'
    ? g.op('SimplifiedLayerNormalization', [x, norm], { axis: -1, epsilon: { float: shape.rmsNormEps }, stash_type: 1 })
    : rmsNormStandard(g, x, norm, shape.rmsNormEps, type);
  const logits = ww.linear(h, 'lm_head', lmHead, shape.vocabSize, shape.hiddenSize, undefined, true);
  if (type === 'float16') g.node('Cast', [logits], [clientIo.logits], { to: 1 });
  else g.node('Identity', [logits], [clientIo.logits]);
  g.output(clientIo.logits, 'float32', ['N', shape.vocabSize]);
  return { bytes: g.toBytes(), weightBytes: ww.bytes };
}
