// Contracts of weight loading: where bytes come from (ByteSource, ModelFiles) and what a model hands the graphs.
import type { ModelShape } from '../../core/model/index.ts';

/** Random-access bytes of one file: a local file in Node, an HTTP resource (Range requests) in the browser. */
export interface ByteSource {
  /** File name or URL, for messages. */
  readonly name: string;
  /** Total size in bytes. */
  size(): Promise<number>;
  /**
   * Exactly `length` bytes from `offset`, fresh and the caller's (the weight readers detach them once copied: never hand
   * out a buffer kept for later reads); throws RuntimeError 'bad-weights' when the file is shorter.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** The files of one model (a folder, a URL prefix); names are relative ('config.json', 'model.safetensors'). */
export interface ModelFiles {
  /** Where the files are, for messages. */
  readonly location: string;
  /** Opens a file (lazily; a missing file fails on first use). */
  open(name: string): ByteSource;
  /** Whether the file exists. */
  exists(name: string): Promise<boolean>;
  /** File names, when the store can list them (folders can; plain HTTP cannot). */
  list?(): Promise<string[]>;
}

/**
 * One decoder block's weights, fp32, matrices row-major [out, in] as Hugging Face Linear stores them.
 * Rotary convention of wq/wk rows is the model shape's `ropeStyle`. Norm weights are the factors the
 * normalized values are multiplied by (Gemma's stored w is read as 1 + w; fused projections are split).
 */
export interface BlockWeights {
  /** RMSNorm before attention, [hidden]. */
  attnNorm: Float32Array;
  /** [numHeads·headDim, hidden]. */
  wq: Float32Array;
  /** [numKvHeads·headDim, hidden]. */
  wk: Float32Array;
  /** [numKvHeads·headDim, hidden]. */
  wv: Float32Array;
  /** [hidden, numHeads·headDim]. */
  wo: Float32Array;
  /** Biases of q/k/v (Qwen2), when the shape says attentionBias. */
  bq?: Float32Array;
  bk?: Float32Array;
  bv?: Float32Array;
  /** RMSNorm before the feed-forward layer, [hidden]. */
  ffnNorm: Float32Array;
  /** SwiGLU gate (llama2.c w1), [ffn, hidden]. */
  wGate: Float32Array;
  /** SwiGLU up (llama2.c w3), [ffn, hidden]. */
  wUp: Float32Array;
  /** SwiGLU down (llama2.c w2), [hidden, ffn]. */
  wDown: Float32Array;
  /** Per-head RMSNorm of queries and keys before rotary (Qwen3, Gemma 3), [headDim], when the shape says qkNorm. */
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  /** RMSNorm of the attention and feed-forward outputs (Gemma 2/3), [hidden], when the shape says sandwichNorms. */
  postAttnNorm?: Float32Array;
  postFfnNorm?: Float32Array;
}

/** A part of a model that a runtime reads: one decoder block (0-based), or one of the client parts. */
export type WeightPart = { kind: 'block'; index: number } | { kind: 'embedding' } | { kind: 'finalNorm' } | { kind: 'lmHead' };

/** A model whose tensors can be read block by block (only what is asked for is read). */
export interface ModelWeights {
  readonly shape: ModelShape;
  /**
   * Bytes in the file(s) of the tensors that reading `part` fetches, from the header offsets (for download
   * progress); absent when the weights are not read from files.
   */
  storedBytes?(part: WeightPart): number;
  /** Reads block `index` (0-based): fresh arrays on every call, the caller's to keep or free (the runtime detaches them once loaded). */
  block(index: number): Promise<BlockWeights>;
  /** Token embedding [vocab, hidden]. */
  embedding(): Promise<Float32Array>;
  /** Final RMSNorm weight [hidden]. */
  finalNorm(): Promise<Float32Array>;
  /** LM head [vocab, hidden] (the embedding when tied). */
  lmHead(): Promise<Float32Array>;
}
