// Tokenizers: llama2.c tokenizer.bin and Hugging Face tokenizer.json agree on stories260K; streaming decode; chat templates.
import { describe, expect, it } from 'vitest';
import { HfTokenizer, Llama2cTokenizer, openTokenizer, renderChatTemplate } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';

async function both(): Promise<[Llama2cTokenizer, HfTokenizer]> {
  const l = folderModelFiles('../shared/models/stories260K');
  const h = folderModelFiles('../shared/models/stories260K-hf');
  const a = await openTokenizer(l, (await openModelWeights(l)).shape);
  const b = await openTokenizer(h, (await openModelWeights(h)).shape);
  if (!(a instanceof Llama2cTokenizer) || !(b instanceof HfTokenizer)) throw new Error('wrong tokenizer kinds');
  return [a, b];
}

describe('tokenizers', () => {
  const prompts = ['Once upon a time', 'Lily  and   Tom went to the park.', 'naïve café — 日本', '', ' leading space', 'x\ny'];

  it('llama2.c and Hugging Face tokenizers encode prompts to the same ids', async () => {
    const [l2c, hf] = await both();
    for (const p of prompts) expect(hf.encode(p)).toEqual(l2c.encode(p));
    expect(l2c.encode('')).toEqual([1]);
    expect(l2c.encode('Once upon a time')[0]).toBe(1);
  });

  it('decode round-trips and streaming decode prints the same text', async () => {
    const [l2c, hf] = await both();
    for (const p of prompts.filter((x) => x !== '')) {
      for (const tok of [l2c, hf]) {
        const ids = tok.encode(p).slice(1);
        expect(tok.decode(ids)).toBe(p);
        const dec = tok.streamDecoder([tok.bosId]);
        const streamed = ids.map((id) => dec.push(id)).join('') + dec.flush();
        expect(streamed).toBe(tok.decode(ids));
      }
    }
  });

  it('renders a chat template with @huggingface/jinja', () => {
    const tpl = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
    const out = renderChatTemplate(tpl, [{ role: 'user', content: 'hi' }], { addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>' });
    expect(out).toBe('<|user|>hi</s><|assistant|>');
  });
});

describe('chat templates of instruct models', () => {
  it('HfTokenizer renders tokenizer_config.json chat_template and encodes its special tokens as ids', async () => {
    const files = folderModelFiles('../shared/models/stories260K-hf');
    const json = JSON.parse(new TextDecoder().decode(await files.open('tokenizer.json').read(0, await files.open('tokenizer.json').size()))) as unknown;
    const config = { bos_token: '<s>', eos_token: '</s>', chat_template: '{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}' };
    const tok = new HfTokenizer(json, config, {});
    const text = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    expect(text).toBe('<s>user: Hi</s>assistant:');
    const ids = tok.encodeTemplated(text);
    expect(ids[0]).toBe(1);
    expect(ids).toContain(2);
    expect(ids.filter((i) => i === 1)).toHaveLength(1);
  });
});
