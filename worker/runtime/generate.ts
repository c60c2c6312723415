// Single-process generation: the one loop of core/generation stepping embed → every block → head of one runtime.
import { generateTokens, stopTokenIdsOf, type GenerateOptions, type GenerationOutput } from '../../core/generation/index.ts';
import { RuntimeError } from '../errors.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import type { BlockRuntime } from './types.ts';

/** What single-process generation reports: the loop's output and the prompt it encoded. */
export interface GenerateResult extends GenerationOutput {
  promptIds: number[];
}

/**
 * Generates with a runtime that serves every block and has the client parts. A string prompt is
 * encoded with BOS (an empty prompt starts from BOS alone); ids (e.g. a rendered chat template) are
 * used as they are. Stops at the tokenizer's stop ids and decodes with its stream decoder unless
 * the options name others; at most as many tokens as the runtime's cache slot holds.
 */
export async function generateText(rt: BlockRuntime, tok: TextTokenizer, prompt: string | readonly number[], options: GenerateOptions): Promise<GenerateResult> {
  const info = await rt.info();
  const shape = info.shape;
  if (info.blocks?.start !== 0 || info.blocks.end !== shape.numBlocks || !info.client) {
    throw new RuntimeError('not-loaded', 'generateText needs a runtime with every block and the client parts');
  }
  const promptIds = typeof prompt === 'string' ? tok.encode(prompt, { bos: true }) : [...prompt];
  if (promptIds.length === 0) throw new RuntimeError('bad-input', 'the prompt has no tokens');
  const maxLength = Math.min(info.cache.slotTokens, promptIds.length + options.maxNewTokens);
  if (promptIds.length >= maxLength) {
    throw new RuntimeError('sequence-too-long', `the prompt is ${promptIds.length} tokens; the model/session holds ${info.cache.slotTokens} in all`);
  }
  // The last sampled token is never fed back, so a full cache still yields one more token.
  const maxNewTokens = Math.min(options.maxNewTokens, maxLength - promptIds.length + 1);
  const sessionId = `generate-${Date.now()}`;
  await rt.openSession({ sessionId, blocks: { start: 0, end: shape.numBlocks }, maxLength });
  const d = shape.hiddenSize;
  try {
    const out = await generateTokens(async (ids) => {
      const hidden = await rt.embed(Int32Array.from(ids));
      const res = await rt.step(sessionId, hidden);
      const last = res.hidden.subarray((res.tokens - 1) * d, res.tokens * d);
      return (await rt.head(new Float32Array(last))).subarray(0, shape.vocabSize);
    }, promptIds, {
      stopTokenIds: stopTokenIdsOf(tok),
      decoder: tok.streamDecoder(promptIds),
      ...options,
      maxNewTokens,
    });
    return { ...out, promptIds };
  } finally {
    await rt.closeSession(sessionId);
  }
}
