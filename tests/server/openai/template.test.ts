// The chat prompt of the OpenAI API and one answer's bookkeeping (max_tokens, stop sequences, finish reasons, usage, cancellation), with no network.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { BouquetError } from '../../../core/errors/index.ts';
import { chatPromptIds, generateAnswer, parseChatCompletionRequest, parseCompletionRequest, promptIdsOf, type SwarmTextClient, type SwarmTextRequest } from '../../../server/openai/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { HfTokenizer, openModelWeights, openTokenizer, type TextTokenizer } from '../../../worker/index.ts';

const template = '{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}';

function hfTokenizer(chatTemplate?: string): HfTokenizer {
  const dir = '../shared/models/stories260K-hf';
  const json = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')) as unknown;
  return new HfTokenizer(json, { bos_token: '<s>', eos_token: '</s>', ...(chatTemplate !== undefined ? { chat_template: chatTemplate } : {}) }, {});
}

/**
 * A stand-in for the swarm client (the real one needs volunteers over WebRTC: tests/e2e/openai-api.test.ts):
 * it "generates" a scripted list of tokens, one text piece each, honouring the limit and the abort signal as the loop does.
 */
function scriptedClient(tokenizer: TextTokenizer, pieces: string[], maxSeqLen = 64): SwarmTextClient & { calls: SwarmTextRequest[] } {
  const calls: SwarmTextRequest[] = [];
  return {
    tokenizer, maxSeqLen, calls,
    generate(request) {
      calls.push(request);
      const ids: number[] = [];
      let text = '';
      for (const [i, piece] of pieces.entries()) {
        if (request.signal?.aborted === true) return Promise.reject(new BouquetError('aborted', 'generation aborted'));
        if (i >= request.maxNewTokens) break;
        ids.push(100 + i);
        request.onToken?.({ id: 100 + i, index: i, latencyMs: 1, text: piece });
        text += piece;
        request.onText?.(piece, i);
      }
      const promptIds = Array.isArray(request.prompt) ? request.prompt : [];
      return Promise.resolve({ ids, text, stopReason: ids.length < pieces.length ? 'max-tokens' : 'stop-token', promptIds });
    },
    close: () => Promise.resolve(),
  };
}

function completion(body: Record<string, unknown>) {
  const r = parseCompletionRequest({ model: 'm', prompt: 'Once upon a time', ...body });
  if (!r.ok) throw r.error;
  return r.value;
}

describe('chat prompts', () => {
  it('render the model\'s chat template with a generation prompt, as bouquet generate --chat does', () => {
    const tok = hfTokenizer(template);
    const messages = [{ role: 'system' as const, content: 'Be kind.' }, { role: 'user' as const, content: 'Hi' }];
    const ids = chatPromptIds(tok, messages, 'm');
    expect(ids).toEqual(tok.encodeTemplated(tok.applyChatTemplate(messages)));
    expect(ids.filter((i) => i === tok.bosId)).toHaveLength(1);
    expect(tok.decode(ids)).toContain('Be kind.');
  });

  it('answer no-chat-template for a model without one (Hugging Face without chat_template, and llama2.c)', async () => {
    expect(() => chatPromptIds(hfTokenizer(), [{ role: 'user', content: 'Hi' }], 'm')).toThrow(expect.objectContaining({ code: 'no-chat-template' }) as Error);
    const files = folderModelFiles('../shared/models/stories260K');
    const llama2c = await openTokenizer(files, (await openModelWeights(files)).shape);
    expect(() => chatPromptIds(llama2c, [{ role: 'user', content: 'Hi' }], 'm')).toThrow(expect.objectContaining({ code: 'no-chat-template' }) as Error);
  });

  it('turn a template that fails on the messages into bad-request', () => {
    const strict = "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}{{ messages[0].content }}";
    expect(() => chatPromptIds(hfTokenizer(strict), [{ role: 'system', content: 'x' }], 'm')).toThrow(expect.objectContaining({ code: 'bad-request' }) as Error);
  });
});

describe('prompt ids', () => {
  const tok = hfTokenizer(template);
  it('put BOS before a text prompt, take ids as they are, refuse ids outside the vocabulary and prompts that fill the session', () => {
    const client = scriptedClient(tok, [], 8);
    expect(promptIdsOf(client, completion({ prompt: 'Once' }), 'm')).toEqual(tok.encode('Once', { bos: true }));
    expect(promptIdsOf(client, completion({ prompt: [5, 6] }), 'm')).toEqual([5, 6]);
    expect(() => promptIdsOf(client, completion({ prompt: [5, tok.vocabSize] }), 'm')).toThrow(expect.objectContaining({ code: 'bad-request' }) as Error);
    expect(() => promptIdsOf(client, completion({ prompt: [1, 2, 3, 4, 5, 6, 7, 8] }), 'm')).toThrow(expect.objectContaining({ code: 'sequence-too-long' }) as Error);
    const chat = parseChatCompletionRequest({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] });
    if (!chat.ok) throw chat.error;
    expect(promptIdsOf(scriptedClient(tok, [], 64), chat.value, 'm')).toEqual(chatPromptIds(tok, chat.value.messages, 'm'));
  });
});

describe('an answer', () => {
  const tok = hfTokenizer();
  const pieces = ['Once', ' upon', ' a', ' time', '.', ' The', ' end', '.'];

  it('streams every piece, ends with stop at the stop token, and counts usage', async () => {
    const seen: string[] = [];
    const r = await generateAnswer(scriptedClient(tok, pieces), completion({ max_tokens: 50 }), [1, 2, 3], new AbortController().signal, { onText: (p) => seen.push(p) });
    expect(r).toMatchObject({ text: pieces.join(''), finishReason: 'stop', promptTokens: 3, completionTokens: 8 });
    expect(seen.join('')).toBe(pieces.join(''));
    expect(r.cpuMs).toBeGreaterThanOrEqual(0);
  });

  it('ends with length at max_tokens (16 by default for completions; the session\'s room for chats)', async () => {
    const client = scriptedClient(tok, pieces, 40);
    const r = await generateAnswer(client, completion({ max_tokens: 3 }), [1, 2], new AbortController().signal);
    expect(r).toMatchObject({ text: 'Once upon a', finishReason: 'length', completionTokens: 3 });
    await generateAnswer(client, completion({}), [1, 2], new AbortController().signal);
    expect(client.calls[1]?.maxNewTokens).toBe(16);
    const chat = parseChatCompletionRequest({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] });
    if (!chat.ok) throw chat.error;
    await generateAnswer(client, chat.value, [1, 2, 3, 4], new AbortController().signal);
    expect(client.calls[2]?.maxNewTokens).toBe(40 - 4 + 1);
    await generateAnswer(client, completion({ max_tokens: 1000 }), [1, 2], new AbortController().signal);
    expect(client.calls[3]?.maxNewTokens).toBe(39);
  });

  it('cuts at a stop sequence (not returned), stops the generation there, and finishes with stop', async () => {
    const seen: string[] = [];
    const client = scriptedClient(tok, pieces);
    const r = await generateAnswer(client, completion({ stop: [' time'], max_tokens: 50 }), [1], new AbortController().signal, { onText: (p) => seen.push(p) });
    expect(r).toMatchObject({ text: 'Once upon a', finishReason: 'stop' });
    expect(seen.join('')).toBe('Once upon a');
    expect(client.calls[0]?.signal?.aborted).toBe(true);
  });

  it('rejects with aborted when the caller goes away', async () => {
    const gone = new AbortController();
    gone.abort();
    await expect(generateAnswer(scriptedClient(tok, pieces), completion({}), [1], gone.signal)).rejects.toMatchObject({ code: 'aborted' });
  });

  it('passes temperature, top_p and seed to the sampler', async () => {
    const client = scriptedClient(tok, pieces);
    await generateAnswer(client, completion({ temperature: 0.7, top_p: 0.8, seed: 42 }), [1], new AbortController().signal);
    expect(client.calls[0]).toMatchObject({ seed: 42, sampling: { temperature: 0.7, topP: 0.8, topK: 0, repetitionPenalty: 1 } });
  });
});
