// ONNX graphs of the Llama family: a range of decoder blocks (one session), the token embedding and the LM head.
import { blockAttentionOf, type ModelShape, type WeightPrecision } from '../../core/model/index.ts';
import { blockIo, hasSlidingBlocks, rotaryTables, usesGqa } from './block-io.ts';
import { toHalfArray, type BlockWeights } from '../weights/index.ts';
import { GraphBuilder, type ExternalTensor } from './onnx-builder.ts';
import { geluTanh, rmsNorm, rmsNormStandard, ropeStandard, scalar, softcap, type Consts, type OpFlavour } from './graph-ops.ts';
import { computeType, WeightWriter } from './weight-writer.ts';
import { RuntimeError } from '../errors.ts';

/** How a graph is built. */
export interface GraphOptions {
  /** Weight precision: fp32, fp16 (then activations and KV cache are fp16 too), q8 (DynamicQuantizeMatMul) or q4 (MatMulNBits); q8/q4 keep fp32 activations. */
  precision: WeightPrecision;
  ops: OpFlavour;
  /** Initializers of at least this many bytes go to external data (default 1 KiB; Infinity: all inside the protobuf). */
  externalMinBytes?: number;
  /**
   * The weight arrays are the builder's to free: each one it copies into another layout (transposed, quantized,
   * fp16) is detached once copied (releaseBuffers), so a block's weights as read do not wait for the collector
   * next to the graph's copy. Default false (the caller's arrays stay intact).
   */
  releaseInputs?: boolean;
}

/** A built graph and what it holds. */
export interface BuiltGraph {
  /** The ModelProto; its large tensors live in `externalData`. */
  bytes: Uint8Array;
  /** The large initializers, outside the protobuf (pass them as the session's `externalData`). */
  externalData: ExternalTensor[];
  /** Bytes of its model weights as stored in the graph (shape constants and rotary tables excluded). */
  weightBytes: number;
}

/**
 * Where a block-range graph gets its blocks: `count` consecutive blocks, read one at a time when the
 * builder reaches them, so that only one block's weights as read are alive at once (the graph keeps
 * them in the layout it runs, e.g. transposed; the read arrays are garbage once their block is built).
 */
export interface BlockReader {
  count: number;
  /** Block `i` of the range (0-based within it). */
  read(i: number): Promise<BlockWeights>;
}

/** A BlockReader over weights already in memory. */
export function blocksInMemory(weights: readonly BlockWeights[]): BlockReader {
  return {
    count: weights.length,
    read: (i) => {
      const w = weights[i];
      return w === undefined ? Promise.reject(new RuntimeError('bad-input', `no block ${i} of ${weights.length}`)) : Promise.resolve(w);
    },
  };
}

/**
 * Builds one session's graph for `blocks.count` consecutive blocks, the first being block `firstBlock`
 * of the model (it decides which blocks slide). Inputs: hidden_in float32 [1, T, hidden], per block
 * past_key_i/past_value_i [1, kvHeads, P, headDim] (compute type), and the position inputs of the
 * flavour (see positionInputs). Outputs: hidden_out float32 [1, T, hidden] and
 * present_key_i/present_value_i [1, kvHeads, P + T, headDim]. `maxPositions` sizes the rotary tables
 * of the contrib flavour.
 */
export async function buildBlockRangeGraph(shape: ModelShape, blocks: BlockReader, opts: GraphOptions & { maxPositions: number; name?: string; firstBlock?: number }): Promise<BuiltGraph> {
  const g = new GraphBuilder(opts.name ?? 'blocks');
  const type = computeType(opts.precision);
  const ww = new WeightWriter(g, opts.precision, opts.releaseInputs === true);
  const d = shape.hiddenSize;
  const hd = shape.headDim;
  const H = shape.numHeads;
  const kvH = shape.numKvHeads;
  const eps = shape.rmsNormEps;
  const firstBlock = opts.firstBlock ?? 0;
  const scale = shape.attentionScale ?? 1 / Math.sqrt(hd);
  const norm = (x: string, w: string): string => rmsNorm(g, x, w, eps, type, opts.ops);

  const hiddenIn = g.input(blockIo.hiddenIn, 'float32', [1, 'T', d]);
  let x = type === 'float16' ? g.op('Cast', [hiddenIn], { to: 10 }) : hiddenIn;

  let seqlensK = '';
  let totalLen = '';
  let cosCache = '';
  let sinCache = '';
  const rope = { full: { cos: '', sin: '' }, sliding: { cos: '', sin: '' } };
  const masks = { full: '', sliding: '' };
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
    rope.full = { cos: g.input(blockIo.cos, type, ['T', hd / 2]), sin: g.input(blockIo.sin, type, ['T', hd / 2]) };
    rope.sliding = rope.full;
    if (shape.localRopeTheta !== undefined) {
      rope.sliding = { cos: g.input(blockIo.cosLocal, type, ['T', hd / 2]), sin: g.input(blockIo.sinLocal, type, ['T', hd / 2]) };
    }
    masks.full = g.input(blockIo.mask, type, ['GT', 'S']);
    masks.sliding = hasSlidingBlocks(shape) ? g.input(blockIo.maskLocal, type, ['GT', 'S']) : masks.full;
    consts.splitHalves = g.ints('split_halves', [hd / 2, hd / 2]);
    consts.splitPairs = g.ints('split_pairs', [1, 1]);
    consts.lastAxis = g.ints('last_axis', [-1]);
    shapeQ = g.ints('shape_q', [1, -1, H, hd]);
    shapeKv = g.ints('shape_kv', [1, -1, kvH, hd]);
    shapeGrouped = g.ints('shape_grouped', [1, kvH, -1, hd]);
    shapeHeads = g.ints('shape_heads', [1, H, -1, hd]);
    shapeFlat = g.ints('shape_flat', [1, -1, H * hd]);
  }
  const headShapes = new Map<number, { split: string; join: string }>();
  /** RMSNorm of each head of x [1, T, heads·hd] (Qwen3 / Gemma 3 q_norm and k_norm). */
  const headNorm = (v: string, heads: number, w: string): string => {
    let sh = headShapes.get(heads);
    if (sh === undefined) {
      sh = { split: g.ints(`heads_split_${heads}`, [1, -1, heads, hd]), join: g.ints(`heads_join_${heads}`, [1, -1, heads * hd]) };
      headShapes.set(heads, sh);
    }
    return g.op('Reshape', [norm(g.op('Reshape', [v, sh.split]), w), sh.join]);
  };

  let pendingDown = '';
  let residual = x;
  for (let i = 0; i < blocks.count; i++) {
    const w = await blocks.read(i);
    const p = `b${i}`;
    const attention = blockAttentionOf(shape, firstBlock + i);
    const pastK = g.input(blockIo.pastKey(i), type, [1, kvH, 'P', hd]);
    const pastV = g.input(blockIo.pastValue(i), type, [1, kvH, 'P', hd]);
    const attnNorm = ww.vector(`${p}.attn_norm`, w.attnNorm);
    const ffnNorm = ww.vector(`${p}.ffn_norm`, w.ffnNorm);
    let h: string;
    if (opts.ops === 'contrib') {
      if (i === 0) {
        h = norm(x, attnNorm);
      } else {
        const [normed, , , sum] = g.node('SkipSimplifiedLayerNormalization', [pendingDown, residual, attnNorm], [`${p}.h`, '', '', `${p}.x`], { epsilon: { float: eps } }, 'com.microsoft') as [string, string, string, string];
        h = normed;
        residual = sum;
      }
    } else {
      if (i > 0) residual = g.op('Add', [pendingDown, residual]);
      h = rmsNormStandard(g, residual, attnNorm, eps, type);
    }
    let q = ww.linear(h, `${p}.wq`, w.wq, H * hd, d, w.bq);
    let k = ww.linear(h, `${p}.wk`, w.wk, kvH * hd, d, w.bk);
    const v = ww.linear(h, `${p}.wv`, w.wv, kvH * hd, d, w.bv);
    if (shape.qkNorm === true) {
      if (w.qNorm === undefined || w.kNorm === undefined) throw new RuntimeError('bad-weights', `block ${firstBlock + i}: the model normalizes q/k heads but q_norm/k_norm weights are missing`);
      q = headNorm(q, H, ww.vector(`${p}.q_norm`, w.qNorm));
      k = headNorm(k, kvH, ww.vector(`${p}.k_norm`, w.kNorm));
    }
    let attn: string;
    if (gqa) {
      const [out] = g.node(
        'GroupQueryAttention',
        [q, k, v, pastK, pastV, seqlensK, totalLen, cosCache, sinCache],
        [`${p}.attn`, blockIo.presentKey(i), blockIo.presentValue(i)],
        { num_heads: H, kv_num_heads: kvH, scale: { float: scale }, do_rotary: 1, rotary_interleaved: shape.ropeStyle === 'interleaved' ? 1 : 0 },
        'com.microsoft',
      ) as [string];
      attn = out;
    } else {
      const { cos, sin } = rope[attention];
      const qh = g.op('Transpose', [g.op('Reshape', [q, shapeQ])], { perm: [0, 2, 1, 3] });
      const kh = g.op('Transpose', [g.op('Reshape', [k, shapeKv])], { perm: [0, 2, 1, 3] });
      const vh = g.op('Transpose', [g.op('Reshape', [v, shapeKv])], { perm: [0, 2, 1, 3] });
      const qr = ropeStandard(g, qh, H, shape, cos, sin, consts);
      const kr = ropeStandard(g, kh, kvH, shape, cos, sin, consts);
      const [presentK] = g.node('Concat', [pastK, kr], [blockIo.presentKey(i)], { axis: 2 }) as [string];
      const [presentV] = g.node('Concat', [pastV, vh], [blockIo.presentValue(i)], { axis: 2 }) as [string];
      // Query heads of one KV head are adjacent: [1, H, T, hd] → [1, kvH, groups·T, hd] is a plain reshape.
      const qg = g.op('Reshape', [qr, shapeGrouped]);
      const scores = g.op('MatMul', [qg, g.op('Transpose', [presentK], { perm: [0, 1, 3, 2] })]);
      let logits = g.op('Mul', [scores, scalar(g, `${p}.scale`, scale, type)]);
      if (shape.attentionSoftcap !== undefined) logits = softcap(g, logits, shape.attentionSoftcap, type);
      const probs = g.op('Softmax', [g.op('Add', [logits, masks[attention]])], { axis: -1 });
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, presentV]), shapeHeads]);
      attn = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), shapeFlat]);
    }
    let o = ww.linear(attn, `${p}.wo`, w.wo, d, H * hd);
    const sandwich = shape.sandwichNorms === true;
    if (sandwich) {
      if (w.postAttnNorm === undefined || w.postFfnNorm === undefined) throw new RuntimeError('bad-weights', `block ${firstBlock + i}: the model has sandwich norms but their weights are missing`);
      o = norm(o, ww.vector(`${p}.post_attn_norm`, w.postAttnNorm));
    }
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
    const activation = shape.mlpActivation ?? 'silu';
    let gated: string;
    switch (activation) {
      case 'silu':
        gated = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
        break;
      case 'gelu-tanh':
        gated = geluTanh(g, gate, type);
        break;
      default: {
        const never: never = activation;
        throw new RuntimeError('bad-model', `unknown feed-forward activation ${String(never)}`);
      }
    }
    pendingDown = ww.linear(g.op('Mul', [gated, up]), `${p}.w_down`, w.wDown, d, shape.ffnSize);
    if (sandwich && w.postFfnNorm !== undefined) pendingDown = norm(pendingDown, ww.vector(`${p}.post_ffn_norm`, w.postFfnNorm));
    g.output(blockIo.presentKey(i), type, [1, kvH, 'S', hd]);
    g.output(blockIo.presentValue(i), type, [1, kvH, 'S', hd]);
    x = residual;
  }
  const sum = g.op('Add', [pendingDown, residual]);
  if (type === 'float16') g.node('Cast', [sum], [blockIo.hiddenOut], { to: 1 });
  else g.node('Identity', [sum], [blockIo.hiddenOut]);
  g.output(blockIo.hiddenOut, 'float32', [1, 'T', d]);
  return { ...g.toModel(opts.externalMinBytes), weightBytes: ww.bytes };
}

/** Names of the client graphs' inputs and outputs. */
export const clientIo = { ids: 'input_ids', embeddings: 'embeddings', hidden: 'hidden', logits: 'logits' } as const;

/** Token embedding: input_ids int64 [N] → embeddings float32 [N, hidden]. */
export function buildEmbeddingGraph(shape: ModelShape, embedding: Float32Array): BuiltGraph {
  const g = new GraphBuilder('embed');
  g.input(clientIo.ids, 'int64', ['N']);
  const table = g.init('embed_tokens', 'float32', [shape.vocabSize, shape.hiddenSize], embedding);
  if (shape.embedScale === undefined) {
    g.node('Gather', [table, clientIo.ids], [clientIo.embeddings], { axis: 0 });
  } else {
    // Gemma scales the embeddings by √hidden (the tied LM head reads them unscaled, so the table stays as stored).
    const rows = g.op('Gather', [table, clientIo.ids], { axis: 0 });
    g.node('Mul', [rows, g.init('embed_scale', 'float32', [], new Float32Array([shape.embedScale]))], [clientIo.embeddings]);
  }
  g.output(clientIo.embeddings, 'float32', ['N', shape.hiddenSize]);
  return { ...g.toModel(), weightBytes: g.initializerBytes };
}

/** Final RMSNorm + LM head (+ final soft-capping, Gemma 2): hidden float32 [N, hidden] → logits float32 [N, vocab]. */
export function buildHeadGraph(shape: ModelShape, finalNorm: Float32Array, lmHead: Float32Array, opts: GraphOptions): BuiltGraph {
  const g = new GraphBuilder('head');
  const type = computeType(opts.precision);
  const ww = new WeightWriter(g, opts.precision);
  const hidden = g.input(clientIo.hidden, 'float32', ['N', shape.hiddenSize]);
  const x = type === 'float16' ? g.op('Cast', [hidden], { to: 10 }) : hidden;
  const norm = ww.vector('final_norm', finalNorm);
  const h = rmsNorm(g, x, norm, shape.rmsNormEps, type, opts.ops);
  let logits = ww.linear(h, 'lm_head', lmHead, shape.vocabSize, shape.hiddenSize, undefined, true);
  if (shape.logitSoftcap !== undefined) logits = softcap(g, logits, shape.logitSoftcap, type);
  if (type === 'float16') g.node('Cast', [logits], [clientIo.logits], { to: 1 });
  else g.node('Identity', [logits], [clientIo.logits]);
  g.output(clientIo.logits, 'float32', ['N', shape.vocabSize]);
  return { ...g.toModel(opts.externalMinBytes), weightBytes: ww.bytes };
}
