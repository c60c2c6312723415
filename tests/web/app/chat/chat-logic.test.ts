// Chat page logic: the chat template for instruct models, plain continuation otherwise, settings checks, latency figures.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '../../../../worker/index.ts';
import { percentile, samplingProblem, tokensPerSecond, defaultSettings } from '../../../../web/app/chat/chat-engine.ts';
import { encodeConversation } from '../../../../web/app/chat/chat-prompt.ts';

const hf = path.resolve(import.meta.dirname, '..', '..', '..', '..', '..', 'shared', 'models', 'stories260K-hf');
const tokenizerJson: unknown = JSON.parse(readFileSync(path.join(hf, 'tokenizer.json'), 'utf8'));
const config = JSON.parse(readFileSync(path.join(hf, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
// A Llama-2-chat style template, as an instruct model's tokenizer_config.json carries it.
const llama2ChatTemplate =
  "{% for m in messages %}{% if m['role'] == 'system' %}{{ bos_token + '[INST] <<SYS>>\\n' + m['content'] + '\\n<</SYS>>\\n\\n' }}" +
  "{% elif m['role'] == 'user' %}{% if loop.index0 == 0 or messages[loop.index0 - 1]['role'] != 'system' %}{{ bos_token + '[INST] ' }}{% endif %}{{ m['content'] + ' [/INST]' }}" +
  "{% else %}{{ ' ' + m['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";

describe('prompt of a conversation', () => {
  it('continues the last user text after BOS when the model has no chat template (stories260K)', () => {
    const tok = new HfTokenizer(tokenizerJson, config, {});
    const ids = encodeConversation(tok, [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'there' }, { role: 'user', content: 'Once upon a time' }]);
    expect(ids).toEqual(tok.encode('Once upon a time', { bos: true }));
  });

  it("renders the model's chat template for an instruct model, whole conversation included", () => {
    const tok = new HfTokenizer(tokenizerJson, { ...config, chat_template: llama2ChatTemplate }, {});
    const turns = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Tell a story' },
      { role: 'assistant' as const, content: 'Once' },
      { role: 'user' as const, content: 'More' },
    ];
    const ids = encodeConversation(tok, turns);
    const text = '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nTell a story [/INST] Once </s><s>[INST] More [/INST]';
    expect(ids).toEqual(tok.encode(text, { bos: false }));
    expect(ids[0]).toBe(tok.bosId);
    expect(tok.decode(ids)).toContain('Tell a story');
  });
});

describe('sampling settings', () => {
  it('accepts the defaults and names the first bad field', () => {
    expect(samplingProblem(defaultSettings, 512)).toBeNull();
    expect(samplingProblem({ ...defaultSettings, temperature: -1 }, 512)).toContain('temperature');
    expect(samplingProblem({ ...defaultSettings, topK: 1.5 }, 512)).toContain('top-k');
    expect(samplingProblem({ ...defaultSettings, topP: 0 }, 512)).toContain('top-p');
    expect(samplingProblem({ ...defaultSettings, repetitionPenalty: 0.5 }, 512)).toContain('repetition');
    expect(samplingProblem({ ...defaultSettings, seed: Number.NaN }, 512)).toContain('seed');
    expect(samplingProblem({ ...defaultSettings, maxNewTokens: 512 }, 512)).toBe('max tokens must be between 1 and 511');
  });
});

describe('latency figures', () => {
  it('takes nearest-rank percentiles and decode speed from per-token latencies', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([30, 10, 20, 40], 0.5)).toBe(20);
    expect(percentile([30, 10, 20, 40], 0.95)).toBe(40);
    expect(tokensPerSecond([50, 50, 100])).toBe(15);
    expect(tokensPerSecond([])).toBeNull();
  });
});
