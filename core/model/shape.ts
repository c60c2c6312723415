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
  /** Family as the config names it (`llama`, `mistral`, `qwen2`, `llama2c`). */
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
}

/**
 * Weight precision of the served blocks. `q8` is int8 with one scale per output channel (the wasm
 * int8 GEMM, DynamicQuantizeMatMul); `q4` is 4-bit blocks of 32 with an fp16 scale (MatMulNBits).
 */
export type WeightPrecision = 'fp32' | 'fp16' | 'q8' | 'q4';
/** Precision of KV-cache values. */
export type CachePrecision = 'fp32' | 'fp16';

function num(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new ModelShapeError(`config.json: field '${key}' must be a number (got ${JSON.stringify(v)})`);
}

const supportedFamilies = ['llama', 'mistral', 'qwen2', 'smollm', 'smollm2'] as const;

/**
 * Reads a Hugging Face `config.json` (Llama, Mistral, Qwen2, SmolLM — SmolLM ships as `llama`).
 * Throws ModelShapeError naming the field when the config is unusable.
 */
export function shapeFromHfConfig(config: unknown): ModelShape {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ModelShapeError('config.json: expected a JSON object');
  }
  const cfg = config as Record<string, unknown>;
  const family = typeof cfg.model_type === 'string' ? cfg.model_type : '';
  if (!(supportedFamilies as readonly string[]).includes(family)) {
    throw new ModelShapeError(
      `config.json: model_type '${family}' is not supported (supported: ${supportedFamilies.join(', ')})`,
    );
  }
  const hiddenSize = num(cfg, 'hidden_size');
  const numHeads = num(cfg, 'num_attention_heads');
  const numKvHeads = num(cfg, 'num_key_value_heads', numHeads);
  const headDim = num(cfg, 'head_dim', hiddenSize / numHeads);
  const shape: ModelShape = {
    family,
    numBlocks: num(cfg, 'num_hidden_layers'),
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    ffnSize: num(cfg, 'intermediate_size'),
    vocabSize: num(cfg, 'vocab_size'),
    maxSeqLen: num(cfg, 'max_position_embeddings', 2048),
    rmsNormEps: num(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta: num(cfg, 'rope_theta', 10000),
    ropeStyle: 'rotate-half',
    tiedEmbeddings: cfg.tie_word_embeddings === true,
    attentionBias: cfg.attention_bias === true || family === 'qwen2',
  };
  if (typeof cfg.bos_token_id === 'number') shape.bosTokenId = cfg.bos_token_id;
  const eos = cfg.eos_token_id;
  if (typeof eos === 'number' || (Array.isArray(eos) && eos.every((e) => typeof e === 'number'))) {
    shape.eosTokenId = eos;
  }
  validateShape(shape);
  return shape;
}

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
  const positive: (keyof ModelShape)[] = [
    'numBlocks', 'hiddenSize', 'numHeads', 'numKvHeads', 'headDim', 'ffnSize', 'vocabSize', 'maxSeqLen',
  ];
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
}

/** Parameters of one decoder block (attention + SwiGLU + two norms). */
export function blockParams(s: ModelShape): number {
  const q = s.hiddenSize * s.numHeads * s.headDim;
  const kv = 2 * s.hiddenSize * s.numKvHeads * s.headDim;
  const o = s.numHeads * s.headDim * s.hiddenSize;
  const ffn = 3 * s.hiddenSize * s.ffnSize;
  const bias = s.attentionBias ? (s.numHeads + 2 * s.numKvHeads) * s.headDim : 0;
  return q + kv + o + ffn + 2 * s.hiddenSize + bias;
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
