// The OpenAI API's request validation: what callers send becomes a bounded request or a coded bad-request naming the field; errors take OpenAI's shape.
import { describe, expect, it } from 'vitest';
import { openAiBounds, openAiError, parseChatCompletionRequest, parseCompletionRequest } from '../../../server/openai/index.ts';
import { CoordinatorApiError } from '../../../core/api/index.ts';

function refused(r: { ok: boolean; error?: CoordinatorApiError }): { code: string; field: string | undefined } {
  expect(r.ok).toBe(false);
  return { code: r.error?.code ?? '', field: r.error?.field };
}

describe('completion requests', () => {
  it('takes OpenAI fields with OpenAI defaults', () => {
    const r = parseCompletionRequest({ model: 'm', prompt: 'Once', max_tokens: 8, temperature: 0, top_p: 0.5, seed: 7, stop: ['.', '\n'], stream: true, stream_options: { include_usage: true }, user: 'ignored', n: 1 });
    expect(r).toEqual({ ok: true, value: { kind: 'completion', model: 'm', prompt: 'Once', maxTokens: 8, temperature: 0, topP: 0.5, seed: 7, stop: ['.', '\n'], stream: true, includeUsage: true } });
    const d = parseCompletionRequest({ model: 'm', prompt: [[1, 2, 3]] });
    expect(d.ok && d.value).toMatchObject({ prompt: [1, 2, 3], maxTokens: undefined, temperature: 1, topP: 1, seed: undefined, stop: [], stream: false, includeUsage: false });
    const s = parseCompletionRequest({ model: 'm', prompt: ['one'], stop: 'x' });
    expect(s.ok && s.value).toMatchObject({ prompt: 'one', stop: ['x'] });
  });

  it('refuses malformed and out-of-bound fields, naming each', () => {
    expect(refused(parseCompletionRequest('text'))).toEqual({ code: 'bad-request', field: '(body)' });
    expect(refused(parseCompletionRequest({ prompt: 'x' }))).toEqual({ code: 'bad-request', field: 'model' });
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', max_tokens: 0 })).field).toBe('max_tokens');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', max_tokens: 1.5 })).field).toBe('max_tokens');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', max_tokens: openAiBounds.maxTokens + 1 })).field).toBe('max_tokens');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', temperature: 2.5 })).field).toBe('temperature');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', temperature: 'hot' })).field).toBe('temperature');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', top_p: 0 })).field).toBe('top_p');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', seed: 0.5 })).field).toBe('seed');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] })).field).toBe('stop');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', stop: [''] })).field).toBe('stop.0');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', stream: 'yes' })).field).toBe('stream');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: ['a', 'b'] })).field).toBe('prompt');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: [1, -2] })).field).toBe('prompt');
    expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x'.repeat(openAiBounds.maxPromptChars + 1) })).field).toBe('prompt');
    expect(refused(parseCompletionRequest({ model: 'x'.repeat(openAiBounds.maxModelChars + 1), prompt: 'x' })).field).toBe('model');
  });

  it('refuses what it would otherwise silently get wrong (n, echo, logprobs, penalties, tools)', () => {
    for (const [field, value] of [['n', 2], ['best_of', 3], ['echo', true], ['logprobs', 2], ['suffix', 'end'], ['presence_penalty', 0.5], ['frequency_penalty', 1], ['logit_bias', { 1: 5 }]] as const) {
      expect(refused(parseCompletionRequest({ model: 'm', prompt: 'x', [field]: value })).field).toBe(field);
    }
  });
});

describe('chat completion requests', () => {
  it('takes text messages (developer is system; text parts are joined) and max_completion_tokens', () => {
    const r = parseChatCompletionRequest({
      model: 'm', max_completion_tokens: 5, max_tokens: 9,
      messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }], name: 'ann' }],
    });
    expect(r.ok && r.value).toMatchObject({ kind: 'chat', maxTokens: 5, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }] });
  });

  it('refuses bad messages, tools and other content', () => {
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: [] })).field).toBe('messages');
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: [{ role: 'tool', content: 'x' }] })).field).toBe('messages.0.role');
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: [{ role: 'user', content: 3 }] })).field).toBe('messages.0.content');
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] })).field).toBe('messages.0.content.0');
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] })).field).toBe('tools');
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } })).field).toBe('response_format');
    const many = Array.from({ length: openAiBounds.maxMessages + 1 }, () => ({ role: 'user', content: 'x' }));
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: many })).field).toBe('messages');
    const long = [{ role: 'user', content: 'x'.repeat(openAiBounds.maxPromptChars) }, { role: 'user', content: 'y' }];
    expect(refused(parseChatCompletionRequest({ model: 'm', messages: long })).field).toBe('messages');
  });
});

describe('errors in OpenAI\'s shape', () => {
  it('carry our code, the field as param, and the code\'s HTTP status', () => {
    expect(openAiError(new CoordinatorApiError('bad-request', 'no', 'max_tokens'))).toEqual({ status: 400, body: { error: { message: 'no', type: 'invalid_request_error', param: 'max_tokens', code: 'bad-request' } } });
    expect(openAiError(new CoordinatorApiError('model-not-found', 'gone', 'model'))).toMatchObject({ status: 404, body: { error: { type: 'not_found_error', code: 'model-not-found', param: 'model' } } });
    expect(openAiError(new CoordinatorApiError('unauthorized', 'key'))).toMatchObject({ status: 401, body: { error: { type: 'authentication_error', param: null } } });
    expect(openAiError(new CoordinatorApiError('no-chat-template', 't'))).toMatchObject({ status: 400, body: { error: { code: 'no-chat-template' } } });
    expect(openAiError(new CoordinatorApiError('rate-limited', 'slow'))).toMatchObject({ status: 429, body: { error: { type: 'rate_limit_error' } } });
    expect(openAiError(new Error('bug'))).toMatchObject({ status: 500, body: { error: { type: 'server_error', code: 'internal' } } });
  });
});
