// What the chat page needs from the client runtime (tokenizer, chat template, generation through the swarm), and answer statistics.
import type { BlockSpan } from '../../../core/swarm/index.ts';
import type { FailoverRecord, GeneratedToken, GenerationResult, RouteHopSpec } from '../../client/index.ts';
import { defaultSampling } from '../../../worker/index.ts';

/** One turn of a conversation. */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Sampling settings the person controls. */
export interface SamplingSettings {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Nucleus: keep the smallest set reaching this probability (1 = all). */
  topP: number;
  /** > 1 discourages repeating tokens already seen (1 = off). */
  repetitionPenalty: number;
  /** Seed of the sampler's generator: the same seed and prompt give the same text. */
  seed: number;
  /** Most tokens to generate. */
  maxNewTokens: number;
}

/** Defaults: the one `defaultSampling` (llama2.c's run.c temperature and top-p, as `bouquet generate`), a seed, a moderate length. */
export const defaultSettings: SamplingSettings = { ...defaultSampling, seed: 42, maxNewTokens: 128 };

/** Checks settings; returns the first problem in words, or null. */
export function samplingProblem(s: SamplingSettings, maxSeqLen: number): string | null {
  if (!(s.temperature >= 0 && s.temperature <= 5)) return 'temperature must be between 0 and 5';
  if (!(Number.isInteger(s.topK) && s.topK >= 0)) return 'top-k must be a whole number ≥ 0 (0 = off)';
  if (!(s.topP > 0 && s.topP <= 1)) return 'top-p must be in (0, 1]';
  if (!(s.repetitionPenalty >= 1 && s.repetitionPenalty <= 3)) return 'repetition penalty must be between 1 and 3';
  if (!(Number.isInteger(s.seed) && s.seed >= 0)) return 'seed must be a whole number ≥ 0';
  if (!(Number.isInteger(s.maxNewTokens) && s.maxNewTokens >= 1 && s.maxNewTokens < maxSeqLen)) return `max tokens must be between 1 and ${maxSeqLen - 1}`;
  return null;
}

/** Callbacks of one generation. */
export interface ChatGenerateOptions {
  settings: SamplingSettings;
  signal: AbortSignal;
  onToken: (token: GeneratedToken) => void;
  /** Each non-empty piece of the answer's text as it is decoded (the last one when generation ends). */
  onText: (piece: string) => void;
  /** The chain in use, when known (after the route is granted) and after each failover. */
  onRoute: (route: RouteHopSpec[]) => void;
  onFailover: (f: FailoverRecord) => void;
  /** Where a request stands after ~10 s without a token, in words (queued, no volunteer, unreachable). */
  onStatus: (text: string) => void;
}

/** The client side of the model as the chat page drives it. */
export interface ChatEngine {
  readonly modelId: string;
  /** Longest prompt + answer, tokens. */
  readonly maxSeqLen: number;
  /** True when the tokenizer has a chat template (instruct model); false: plain text continuation. */
  readonly hasChatTemplate: boolean;
  /** Where the client parts run (e.g. "wasm, 4 threads"). */
  readonly runtimeDescription: string;
  /** Prompt token ids for the conversation: the chat template when there is one, else the last user text. */
  encodeConversation(turns: ChatTurn[]): number[];
  /** Generates through the swarm; resolves when done or stopped (stopping resolves with what came). */
  generate(promptIds: number[], options: ChatGenerateOptions): Promise<GenerationResult>;
  /** Blocks no serving volunteer holds now (empty: the model is covered). */
  missingBlocks(): Promise<BlockSpan[]>;
  /** Tells the coordinator why a request failed before it was sent ('coverage'). */
  reportCoverageFailure(missing: BlockSpan[], message: string): void;
  close(): void;
}

/** Builds the chat engine for a page served by `origin`, for one of its models (default: its first); reports progress in words. */
export type StartChat = (origin: string, onProgress: (text: string) => void, modelId?: string) => Promise<ChatEngine>;

/** What is shown under an answer. */
export interface AnswerStats {
  route: RouteHopSpec[];
  tokens: number;
  ttftMs: number | null;
  /** Latency of each token after the first, ms. */
  perTokenMs: number[];
  totalMs: number | null;
  failovers: FailoverRecord[];
}

/** Percentile p (0..1) of values, nearest rank; null when empty. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? null;
}

/** Decode speed: tokens after the first per second of their latencies. */
export function tokensPerSecond(perTokenMs: number[]): number | null {
  const sum = perTokenMs.reduce((a, b) => a + b, 0);
  return perTokenMs.length === 0 || sum <= 0 ? null : (perTokenMs.length * 1000) / sum;
}
