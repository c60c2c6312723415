// The contract of the one generation loop: what it steps, samples and streams, and what it reports.
import type { AbortSignalLike } from '../api/index.ts';

/** Picks the next token from one row of logits; `seen` holds the prompt and the tokens generated so far. */
export type Sampler = (logits: Float32Array, seen: readonly number[]) => number;

/**
 * One forward pass: runs token `ids` at positions `position … position + ids.length − 1` through
 * embedding, every block and the LM head, and resolves with the logits [vocab] of the last of them.
 * The prompt is one call at position 0 (the step may chunk it); each decode step is one token. A
 * single process implements it over its runtime, the client session over the chain of peers
 * (failing over and replaying inside the call).
 */
export type GenerationStep = (ids: readonly number[], position: number) => Promise<Float32Array>;

/** Incremental text decoding (a tokenizer's stream decoder fits). */
export interface TokenDecoder {
  /** Text this token adds ('' while a multi-byte character is incomplete). */
  push(id: number): string;
  /** Whatever text is still pending. */
  flush(): string;
}

/** One generated token, as streamed. */
export interface GeneratedToken {
  id: number;
  /** 0-based index among generated tokens. */
  index: number;
  /** Time since the previous token (for the first: since generation started), ms. */
  latencyMs: number;
  /** Text this token adds ('' without a decoder, or while a multi-byte character is incomplete). */
  text: string;
}

/** Options of one generation, the same for `bouquet generate`, the client session and the chat pages. */
export interface GenerateOptions {
  /** Most tokens to generate (≥ 1); fewer when a stop token comes first. */
  maxNewTokens: number;
  /** Default greedy (argmax). */
  sampler?: Sampler;
  /** Ends generation when sampled; the stop token is not emitted. Use `stopTokenIdsOf(tokenizer)`. */
  stopTokenIds?: readonly number[];
  /** Decodes the ids to text as they come (without it, `text` is ''). */
  decoder?: TokenDecoder;
  /** Called for each token as it is sampled (and decoded). */
  onToken?: (token: GeneratedToken) => void;
  /** Called with each non-empty piece of decoded text (needs `decoder`); `index` is the token's, or `ids.length` for the final flush. */
  onText?: (piece: string, index: number) => void;
  /** Aborting ends generation with a BouquetError of code 'aborted' before the next step. */
  signal?: AbortSignalLike;
}

/**
 * Why a generation ended. The loop itself ends with 'stop-token' or 'max-tokens' and throws code
 * 'aborted'; 'aborted' here is for callers that resolve an abort with what came (the chat pages).
 */
export type StopReason = 'stop-token' | 'max-tokens' | 'aborted';

/** What one generation reports. */
export interface GenerationOutput {
  /** Generated token ids (prompt and stop token excluded). */
  ids: number[];
  /** Their text ('' without a decoder). */
  text: string;
  stopReason: StopReason;
  /** Prompt pass (the first step and its sampling), ms. */
  prefillMs: number;
  /** Time from the start to the first generated token, ms (0 when none came). */
  ttftMs: number;
  /** Latency of every generated token after the first, ms. */
  perTokenMs: number[];
  /** Decode speed: tokens after the first per second of their latencies (0 with fewer than 2 tokens). */
  tokensPerSecond: number;
  totalMs: number;
}
