// Model shapes: the handful of numbers placement, the performance model and the runtime need.
import { BouquetError, registerErrorKind } from '../errors/index.ts';

/** A planning or runtime error with a machine-readable code; the message says what to do. */
export class ModelShapeError extends BouquetError<'bad-model-config'> {
  constructor(message: string) {
    super('bad-model-config', message);
  }
}
registerErrorKind('ModelShapeError', ModelShapeError);

/** Rotary embedding convention: llama2.c rotates interleaved pairs (2i, 2i+1); Hugging Face rotates halves. */
export type RopeStyle = 'interleaved' | 'rotate-half';

/** Architecture of a Llama-family decoder-only model. */
export interface ModelShape {
  /** Family as the config names it (`llama`, `mistral`, `qwen2`, `qwen3`, `phi3`, `gemma2`, `gemma3_text`, `gemma3` for the text decoder of a multimodal Gemma 3, `llama2c`). */
  family: string;
  /** Number of decoder blocks, L in the papers. */
  numBlocks: number;
  /** Width of the residual stream (d_model). */
  hiddenSize: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (equal to numHeads without grouped-query attention). */
  numKvHeads: number;
  /** Width of one attention head. */
  headDim: number;
  /** Inner width of the SwiGLU feed-forward layer. */
  ffnSize: number;
  /** Vocabulary size. */
  vocabSize: number;
  /** Longest sequence (prompt + generated tokens) the model supports, in tokens. */
  maxSeqLen: number;
  /** RMSNorm epsilon. */
  rmsNormEps: number;
  /** Rotary base frequency (theta). */
  ropeTheta: number;
  /** Rotary convention of the checkpoint's q/k projections. */
  ropeStyle: RopeStyle;
  /** True when the LM head reuses the token embedding matrix. */
  tiedEmbeddings: boolean;
  /** Whether q/k/v projections carry a bias (Qwen2). */
  attentionBias: boolean;
  /** Token ids, when the config gives them. */
  bosTokenId?: number;
  eosTokenId?: number | number[];
  // Family math beyond the Llama core. Each is absent for plain Llama (the llama2.c shape has none).
  /** Rescaled rotary frequencies of full-attention blocks (Llama 3.1+, Phi-3 longrope, Gemma 3 global). */
  ropeScaling?: RopeScaling;
  /** Tokens a sliding-window block attends to, itself included (Mistral, Phi-3, Gemma 2/3). */
  slidingWindow?: number;
  /** Attention of each block; absent with `slidingWindow` set means every block slides. */
  blockAttention?: BlockAttention[];
  /** Rotary base of sliding blocks, which use unscaled rotary (Gemma 3 `rope_local_base_freq`). */
  localRopeTheta?: number;
  /** RMSNorm of each query and key head before rotary (Qwen3, Gemma 3 `q_norm`/`k_norm`). */
  qkNorm?: boolean;
  /** RMSNorm of the attention and feed-forward outputs before their residual add (Gemma 2/3). */
  sandwichNorms?: boolean;
  /** Activation of the gated feed-forward layer; absent means SiLU (SwiGLU). */
  mlpActivation?: MlpActivation;
  /** Factor on the token embeddings before block 0 (Gemma: √hidden). */
  embedScale?: number;
  /** Factor on q·k before softmax; absent means 1/√headDim (Gemma: 1/√query_pre_attn_scalar). */
  attentionScale?: number;
  /** Attention logits become cap·tanh(logit/cap) (Gemma 2 `attn_logit_softcapping`). */
  attentionSoftcap?: number;
  /** Final logits become cap·tanh(logit/cap) (Gemma 2 `final_logit_softcapping`). */
  logitSoftcap?: number;
}

/**
 * How rotary frequencies inv_freq_i = theta^(−2i/headDim) are rescaled (Hugging Face `rope_scaling`):
 * `linear` divides them by `factor`; `llama3` divides the low frequencies (wavelength above
 * originalMaxPositions/lowFreqFactor) by `factor`, keeps the high ones (wavelength below
 * originalMaxPositions/highFreqFactor) and blends in between; `longrope` divides frequency i by
 * shortFactor[i], or by longFactor[i] in a step whose last position reaches originalMaxPositions, and
 * multiplies cos/sin by attentionFactor.
 */
export type RopeScaling =
  | { kind: 'linear'; factor: number }
  | { kind: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { kind: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; attentionFactor: number };

/** Attention of one block: causal over every earlier token, or over the last `slidingWindow` tokens. */
export type BlockAttention = 'full' | 'sliding';

/** Gated feed-forward activation: SiLU (SwiGLU) or GELU with the tanh approximation (GeGLU). */
export type MlpActivation = 'silu' | 'gelu-tanh';

/**
 * Weight precision of the served blocks. `q8` is int8 with one scale per output channel (the wasm
 * int8 GEMM, DynamicQuantizeMatMul); `q4` is 4-bit blocks of 32 with an fp16 scale (MatMulNBits).
 */
export type WeightPrecision = 'fp32' | 'fp16' | 'q8' | 'q4';
/** Precision of KV-cache values. */
export type CachePrecision = 'fp32' | 'fp16';

/** Size of the llama2.c checkpoint header: seven int32. */
export const llama2cHeaderBytes = 28;

/**
 * Reads a llama2.c "legacy" checkpoint header (seven int32: dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len). A negative vocab_size means the classifier is stored separately.
 */
export function shapeFromLlama2cHeader(header: ArrayBuffer | Uint8Array): ModelShape {
  const bytes = header instanceof Uint8Array ? header : new Uint8Array(header);
  if (bytes.byteLength < llama2cHeaderBytes) {
    throw new ModelShapeError(`llama2.c checkpoint: header needs ${llama2cHeaderBytes} bytes, got ${bytes.byteLength}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, llama2cHeaderBytes);
  const f = (i: number): number => view.getInt32(i * 4, true);
  const vocab = f(5);
  const shape: ModelShape = {
    family: 'llama2c',
    hiddenSize: f(0),
    ffnSize: f(1),
    numBlocks: f(2),
    numHeads: f(3),
    numKvHeads: f(4),
    headDim: f(0) / f(3),
    vocabSize: Math.abs(vocab),
    maxSeqLen: f(6),
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'interleaved',
    tiedEmbeddings: vocab > 0,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenId: 2,
  };
  validateShape(shape);
  return shape;
}

/** Throws ModelShapeError when the numbers cannot describe a Llama-family model. */
export function validateShape(s: ModelShape): void {
  const positive = [
    'numBlocks', 'hiddenSize', 'numHeads', 'numKvHeads', 'headDim', 'ffnSize', 'vocabSize', 'maxSeqLen',
  ] as const satisfies (keyof ModelShape)[];
  for (const k of positive) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ModelShapeError(`model shape: ${k} must be a positive integer (got ${String(v)})`);
    }
  }
  if (s.numHeads % s.numKvHeads !== 0) {
    throw new ModelShapeError(`model shape: numHeads (${s.numHeads}) must be a multiple of numKvHeads (${s.numKvHeads})`);
  }
  if (s.headDim % 2 !== 0) throw new ModelShapeError(`model shape: headDim (${s.headDim}) must be even for rotary embeddings`);
  if (s.slidingWindow !== undefined && (!Number.isInteger(s.slidingWindow) || s.slidingWindow <= 0)) {
    throw new ModelShapeError(`model shape: slidingWindow must be a positive integer (got ${String(s.slidingWindow)})`);
  }
  if (s.blockAttention !== undefined && s.blockAttention.length !== s.numBlocks) {
    throw new ModelShapeError(`model shape: blockAttention names ${s.blockAttention.length} blocks, the model has ${s.numBlocks}`);
  }
  const r = s.ropeScaling;
  if (r?.kind === 'longrope' && (r.shortFactor.length !== s.headDim / 2 || r.longFactor.length !== s.headDim / 2)) {
    throw new ModelShapeError(`model shape: longrope short/long factors need headDim/2 = ${s.headDim / 2} values each`);
  }
}

/** Parameters of one decoder block (attention + gated feed-forward + two norms, plus the family's extra norms). */
export function blockParams(s: ModelShape): number {
  const q = s.hiddenSize * s.numHeads * s.headDim;
  const kv = 2 * s.hiddenSize * s.numKvHeads * s.headDim;
  const o = s.numHeads * s.headDim * s.hiddenSize;
  const ffn = 3 * s.hiddenSize * s.ffnSize;
  const bias = s.attentionBias ? (s.numHeads + 2 * s.numKvHeads) * s.headDim : 0;
  const qkNorm = s.qkNorm === true ? 2 * s.headDim : 0;
  const sandwich = s.sandwichNorms === true ? 2 * s.hiddenSize : 0;
  return q + kv + o + ffn + 2 * s.hiddenSize + bias + qkNorm + sandwich;
}

/** Attention of block `index` (0-based): sliding or full. */
export function blockAttentionOf(s: ModelShape, index: number): BlockAttention {
  if (s.slidingWindow === undefined) return 'full';
  return s.blockAttention?.[index] ?? 'sliding';
}

/**
 * Bytes per parameter for a weight precision (q8: 1 byte, its one fp32 scale per output channel of
 * ≥ 64 inputs neglected; q4: 4 bits + one fp16 scale per 32 weights).
 */
export function bytesPerParam(p: WeightPrecision): number {
  switch (p) {
    case 'fp32':
      return 4;
    case 'fp16':
      return 2;
    case 'q8':
      return 1;
    case 'q4':
      return 0.5 + 2 / 32;
    default: {
      const never: never = p;
      throw new ModelShapeError(`unknown weight precision ${String(never)}`);
    }
  }
}

/** s_m: bytes of one block's weights at the given precision. */
export function blockBytes(s: ModelShape, precision: WeightPrecision): number {
  return Math.ceil(blockParams(s) * bytesPerParam(precision));
}

/**
 * s_c: bytes of one session's KV cache for one block, `2 · kv_dim · maxTokens · bytesPerValue`
 * (kv_dim = numKvHeads · headDim), for a session of at most `maxTokens` = l_in_max + l_out_max tokens.
 */
export function cacheBytesPerBlock(s: ModelShape, maxTokens: number, precision: CachePrecision = 'fp32'): number {
  const bytesPerValue = precision === 'fp32' ? 4 : 2;
  return 2 * s.numKvHeads * s.headDim * maxTokens * bytesPerValue;
}

/** Bytes of one hidden-state row (one token) on the wire: what a decode hop carries. */
export function hiddenStateBytesPerToken(s: ModelShape, precision: CachePrecision = 'fp32'): number {
  return s.hiddenSize * (precision === 'fp32' ? 4 : 2);
}
