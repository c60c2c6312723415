// One OpenAI request through the swarm: prompt ids, limits, stop sequences, streaming and cancellation around the swarm client's generate.
import { randomUUID } from 'node:crypto';
import { CoordinatorApiError } from '../../core/api/index.ts';
import { BouquetError, isBouquetError } from '../../core/errors/index.ts';
import { chatPromptIds } from './template.ts';
import { StopMatcher } from './stop.ts';
import type { SwarmTextClient } from './swarm-client.ts';
import type { ChatCompletionRequest, CompletionRequest } from './validate.ts';

/** Tokens a completion makes when `max_tokens` is absent (OpenAI's default for /v1/completions). */
export const defaultCompletionTokens = 16;

/** OpenAI's reasons an answer ended: a stop token or sequence, or the token limit. */
export type FinishReason = 'stop' | 'length';

/** What a finished generation reports to the endpoint. */
export interface AnswerResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Server CPU (user + system) spent during the request, ms (process.cpuUsage: other requests at the same time count too). */
  cpuMs: number;
}

/** How an answer streams and whom it is for. */
export interface AnswerOptions {
  /** Each piece of visible text (stop sequences held back and cut); absent: not streamed. */
  onText?: (piece: string) => void;
  /** The caller (SwarmTextRequest.onBehalfOf): its own client identity at the coordinator. */
  onBehalfOf?: string;
}

/** The request's prompt ids on this model: a completion's text after BOS (as `bouquet generate`) or its ids, a chat through the chat template. */
export function promptIdsOf(client: SwarmTextClient, request: CompletionRequest | ChatCompletionRequest, modelId: string): number[] {
  const tokenizer = client.tokenizer;
  let ids: number[];
  let field: string;
  switch (request.kind) {
    case 'completion':
      field = 'prompt';
      if (typeof request.prompt === 'string') ids = tokenizer.encode(request.prompt, { bos: true });
      else {
        ids = request.prompt;
        const bad = ids.findIndex((t) => t >= tokenizer.vocabSize);
        if (bad !== -1) throw new CoordinatorApiError('bad-request', `token id ${ids[bad]} is outside the model's vocabulary of ${tokenizer.vocabSize}`, `prompt.${bad}`);
      }
      break;
    case 'chat':
      field = 'messages';
      ids = chatPromptIds(tokenizer, request.messages, modelId);
      break;
    default: {
      const never: never = request;
      throw new BouquetError('internal', `unknown request ${String(never)}`);
    }
  }
  if (ids.length === 0) throw new CoordinatorApiError('bad-request', 'the prompt has no tokens', field);
  if (ids.length >= client.maxSeqLen) {
    throw new CoordinatorApiError('sequence-too-long', `the prompt is ${ids.length} tokens; this swarm's sessions hold ${client.maxSeqLen} (prompt and answer together)`, field);
  }
  return ids;
}

/**
 * Generates the answer of `request` through the swarm client. `signal` cancels it (the caller went
 * away): the generation stops before its next step, its sessions close and its route is released,
 * and this rejects with code `aborted`. A stop sequence ends the generation the same way, and the
 * answer is the text before it.
 */
export async function generateAnswer(
  client: SwarmTextClient,
  request: CompletionRequest | ChatCompletionRequest,
  promptIds: number[],
  signal: AbortSignal,
  options: AnswerOptions = {},
): Promise<AnswerResult> {
  const cpu0 = process.cpuUsage();
  // Tokens that fit the session: the last sampled one is never fed back, so a full session still yields one more.
  const room = client.maxSeqLen - promptIds.length + 1;
  const wanted = request.maxTokens ?? (request.kind === 'completion' ? defaultCompletionTokens : room);
  const maxNewTokens = Math.max(1, Math.min(wanted, room));
  const stops = new StopMatcher(request.stop);
  const own = new AbortController();
  const cancel = (): void => own.abort();
  if (signal.aborted) cancel();
  else signal.addEventListener('abort', cancel, { once: true });
  let text = '';
  let tokens = 0;
  const show = (piece: string): void => {
    if (piece === '') return;
    text += piece;
    options.onText?.(piece);
  };
  let stopReason: 'stop-token' | 'max-tokens' | 'aborted';
  try {
    const result = await client.generate({
      prompt: promptIds,
      maxNewTokens,
      sampling: { temperature: request.temperature, topP: request.topP, topK: 0, repetitionPenalty: 1 },
      // A random seed when none is given, as OpenAI samples differently each time.
      seed: request.seed ?? Math.floor(Math.random() * 2 ** 31),
      signal: own.signal,
      ...(options.onBehalfOf !== undefined ? { onBehalfOf: options.onBehalfOf } : {}),
      onToken: () => void tokens++,
      onText: (piece) => {
        show(stops.push(piece));
        if (stops.stopped) own.abort();
      },
    });
    stopReason = result.stopReason;
  } catch (e) {
    // Our own abort for a stop sequence is a normal end; the caller's is not.
    if (!(isBouquetError(e, 'aborted') && stops.stopped && !signal.aborted)) throw e;
    stopReason = 'aborted';
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  show(stops.flush());
  const cpu = process.cpuUsage(cpu0);
  return {
    text,
    finishReason: stops.stopped || stopReason === 'stop-token' ? 'stop' : 'length',
    promptTokens: promptIds.length,
    completionTokens: tokens,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/** A fresh response id in OpenAI's style (`cmpl-…`, `chatcmpl-…`). */
export function responseId(kind: 'completion' | 'chat'): string {
  return `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`;
}
