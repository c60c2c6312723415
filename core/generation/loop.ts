// The one generation loop: prefill, decode, sampling, stop tokens, streaming of tokens and text, abort.
import type { AbortSignalLike } from '../api/index.ts';
import { BouquetError } from '../errors/index.ts';
import type { GenerateOptions, GenerationOutput, GenerationStep, Sampler, StopReason } from './types.ts';

/** Greedy decoding: the index of the largest logit (lowest index on ties). */
export const greedy: Sampler = (logits) => {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if ((logits[i] ?? -Infinity) > (logits[best] ?? -Infinity)) best = i;
  return best;
};

/**
 * The ids that end generation, from the model's own config: BOS and every EOS id the tokenizer
 * read (llama2.c: BOS 1, EOS 2; Hugging Face: `generation_config.json`/`config.json` eos ids), as
 * llama2.c's run.c stops at BOS.
 */
export function stopTokenIdsOf(tokenizer: { readonly bosId: number; readonly eosIds: readonly number[] }): number[] {
  return [...new Set([tokenizer.bosId, ...tokenizer.eosIds])];
}

function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted === true) throw new BouquetError('aborted', 'generation aborted');
}

/**
 * Generates up to `options.maxNewTokens` tokens after `promptIds`: one `step` over the whole
 * prompt (prefill), then one per token, sampling each from the logits, streaming it (and its text)
 * and stopping at a stop token, at the limit, or with code 'aborted' when the signal fires. `now`
 * is the clock in ms (injected for tests; default `performance.now`).
 */
export async function generateTokens(
  step: GenerationStep,
  promptIds: readonly number[],
  options: GenerateOptions,
  now: () => number = () => performance.now(),
): Promise<GenerationOutput> {
  if (promptIds.length === 0) throw new BouquetError('bad-input', 'the prompt must hold at least one token');
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new BouquetError('bad-input', `maxNewTokens must be a whole number ≥ 1 (got ${options.maxNewTokens})`, { field: 'maxNewTokens' });
  }
  const sampler = options.sampler ?? greedy;
  const stops = new Set(options.stopTokenIds ?? []);
  const decoder = options.decoder;
  const signal = options.signal;
  const started = now();
  const ids: number[] = [];
  const seen = [...promptIds];
  const perTokenMs: number[] = [];
  let text = '';
  let ttftMs = 0;
  let stopReason: StopReason = 'max-tokens';
  const emit = (piece: string, index: number): void => {
    if (piece === '') return;
    text += piece;
    options.onText?.(piece, index);
  };

  throwIfAborted(signal);
  let token = sampler(await step(promptIds, 0), seen);
  const prefillMs = now() - started;
  let last = started;
  for (;;) {
    if (stops.has(token)) {
      stopReason = 'stop-token';
      break;
    }
    const t = now();
    const latencyMs = t - last;
    last = t;
    if (ids.length === 0) ttftMs = t - started;
    else perTokenMs.push(latencyMs);
    ids.push(token);
    seen.push(token);
    const piece = decoder?.push(token) ?? '';
    options.onToken?.({ id: token, index: ids.length - 1, latencyMs, text: piece });
    emit(piece, ids.length - 1);
    if (ids.length >= options.maxNewTokens) break;
    throwIfAborted(signal);
    token = sampler(await step([token], promptIds.length + ids.length - 1), seen);
  }
  if (decoder !== undefined) emit(decoder.flush(), ids.length);
  const decodeMs = perTokenMs.reduce((a, b) => a + b, 0);
  const tokensPerSecond = perTokenMs.length > 0 && decodeMs > 0 ? (perTokenMs.length * 1000) / decodeMs : 0;
  return { ids, text, stopReason, prefillMs, ttftMs, perTokenMs, tokensPerSecond, totalMs: now() - started };
}
