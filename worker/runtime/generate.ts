// Single-process generation loop: embed → blocks → head → sample, streaming text (the swarm client does the same over peers).
import { RuntimeError } from '../errors.ts';
import { sampleToken, seededRng, type SamplingParams } from '../sampling/index.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import type { BlockRuntime } from './types.ts';

export interface GenerateOptions {
  prompt: string;
  /** Token ids to use instead of encoding `prompt` (e.g. a rendered chat template); BOS is not added. */
  promptIds?: number[];
  /** Most tokens to generate (stops earlier at BOS/EOS, as llama2.c's run.c does). */
  maxTokens: number;
  sampling: SamplingParams;
  seed: number;
  /** Called with each new piece of text as it is decoded. */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  /** Generated text (prompt excluded). */
  text: string;
  /** Generated token ids (prompt excluded). */
  ids: number[];
  promptIds: number[];
  /** Prompt pass (embed + blocks + head + sample), ms. */
  prefillMs: number;
  /** Generated tokens per second, counting the tokens after the first (decode steps only). */
  tokensPerSecond: number;
}

/**
 * Generates with a runtime that serves every block and has the client parts. The prompt is encoded with
 * BOS (an empty prompt starts from BOS alone) and run as one prefill step.
 */
export async function generateText(rt: BlockRuntime, tok: TextTokenizer, opts: GenerateOptions): Promise<GenerateResult> {
  const info = await rt.info();
  const shape = info.shape;
  if (info.blocks?.start !== 0 || info.blocks.end !== shape.numBlocks || !info.client) {
    throw new RuntimeError('not-loaded', 'generateText needs a runtime with every block and the client parts');
  }
  const promptIds = opts.promptIds ?? tok.encode(opts.prompt, { bos: true });
  if (promptIds.length === 0) throw new RuntimeError('bad-input', 'the prompt has no tokens');
  const maxLength = Math.min(info.cache.slotTokens, promptIds.length + opts.maxTokens);
  if (promptIds.length >= maxLength) {
    throw new RuntimeError('sequence-too-long', `the prompt is ${promptIds.length} tokens; the model/session holds ${info.cache.slotTokens} in all`);
  }
  const sessionId = `generate-${Date.now()}`;
  await rt.openSession({ sessionId, blocks: { start: 0, end: shape.numBlocks }, maxLength });
  const rng = seededRng(opts.seed);
  const ids: number[] = [];
  const decoder = tok.streamDecoder(promptIds);
  const stops = new Set([tok.bosId, ...tok.eosIds]);
  const d = shape.hiddenSize;
  const v = shape.vocabSize;
  let text = '';
  const emit = (s: string): void => {
    if (s === '') return;
    text += s;
    opts.onText?.(s);
  };
  try {
    const t0 = performance.now();
    let input = Int32Array.from(promptIds);
    let prefillMs = 0;
    let decodeStart = 0;
    while (ids.length < opts.maxTokens) {
      const hidden = await rt.embed(input);
      const out = await rt.step(sessionId, hidden);
      const last = out.hidden.subarray((out.tokens - 1) * d, out.tokens * d);
      const logits = await rt.head(new Float32Array(last));
      const next = sampleToken(logits.subarray(0, v), opts.sampling, rng, [...promptIds, ...ids]);
      if (ids.length === 0) {
        prefillMs = performance.now() - t0;
        decodeStart = performance.now();
      }
      if (stops.has(next)) break;
      ids.push(next);
      emit(decoder.push(next));
      if (out.length >= maxLength) break;
      input = Int32Array.from([next]);
    }
    emit(decoder.flush());
    const decodeS = (performance.now() - decodeStart) / 1000;
    const tokensPerSecond = ids.length > 1 && decodeS > 0 ? (ids.length - 1) / decodeS : 0;
    return { text, ids, promptIds, prefillMs, tokensPerSecond };
  } finally {
    await rt.closeSession(sessionId);
  }
}
