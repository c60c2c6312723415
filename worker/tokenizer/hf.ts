// Hugging Face tokenizer.json through @huggingface/tokenizers, and chat templates through @huggingface/jinja.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { RuntimeError } from '../errors.ts';
import type { StreamDecoder, TextTokenizer } from './types.ts';

/** A tokenizer.json tokenizer; BOS/EOS come from the model config or tokenizer_config.json. */
export class HfTokenizer implements TextTokenizer {
  private readonly tok: Tokenizer;
  readonly bosId: number;
  readonly eosIds: number[];
  readonly vocabSize: number;
  readonly chatTemplate: string | null;

  constructor(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>, ids: { bos?: number; eos?: number | number[] }) {
    try {
      this.tok = new Tokenizer(tokenizerJson as object, tokenizerConfig);
    } catch (e) {
      throw new RuntimeError('bad-model', `tokenizer.json could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    }
    const token = (key: string): number | undefined => {
      const v = tokenizerConfig[key];
      const content = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v as { content?: unknown }).content : undefined;
      return typeof content === 'string' ? this.tok.token_to_id(content) : undefined;
    };
    const bos = ids.bos ?? token('bos_token');
    const eos = ids.eos ?? token('eos_token');
    if (bos === undefined) throw new RuntimeError('bad-model', 'no BOS token id in config.json or tokenizer_config.json');
    this.bosId = bos;
    this.eosIds = eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
    this.vocabSize = this.tok.get_vocab(true).size;
    const tpl = tokenizerConfig.chat_template;
    this.chatTemplate = typeof tpl === 'string' ? tpl : null;
  }

  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const wantBos = opts.bos !== false;
    if (text === '') return wantBos ? [this.bosId] : [];
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return wantBos ? [this.bosId, ...ids] : ids;
  }

  streamDecoder(context: number[]): StreamDecoder {
    // Decode context + new ids and print the growth: spacing rules (sentencepiece ▁, Strip) stay right.
    const ids = context.length > 0 ? [context[context.length - 1] ?? this.bosId] : [this.bosId];
    let printed = this.decode(ids);
    return {
      push: (id) => {
        ids.push(id);
        const text = this.decode(ids);
        // Hold back while the tail is an incomplete UTF-8 sequence (shown as U+FFFD).
        if (text.endsWith('\uFFFD')) return '';
        const out = text.startsWith(printed) ? text.slice(printed.length) : text;
        printed = text;
        return out;
      },
      flush: () => {
        const text = this.decode(ids);
        const out = text.startsWith(printed) ? text.slice(printed.length) : '';
        printed = text;
        return out;
      },
    };
  }

  decode(ids: number[]): string {
    return this.tok.decode(ids, { skip_special_tokens: true });
  }

  /** Encodes a rendered chat template: special tokens written in the text (BOS, role markers) become their ids, nothing is added. */
  encodeTemplated(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Renders the model's chat template (tokenizer_config.json) for a conversation; encode it with encodeTemplated. */
  applyChatTemplate(messages: { role: string; content: string }[], opts: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === null) throw new RuntimeError('bad-model', 'this model has no chat template (tokenizer_config.json chat_template)');
    return renderChatTemplate(this.chatTemplate, messages, { addGenerationPrompt: opts.addGenerationPrompt ?? true, bosToken: this.tok.id_to_token(this.bosId) ?? '', eosToken: this.tok.id_to_token(this.eosIds[0] ?? -1) ?? '' });
  }
}

/** Renders a Jinja chat template the way transformers does (messages, add_generation_prompt, bos/eos tokens). */
export function renderChatTemplate(template: string, messages: { role: string; content: string }[], opts: { addGenerationPrompt: boolean; bosToken: string; eosToken: string }): string {
  try {
    return new Template(template).render({ messages, add_generation_prompt: opts.addGenerationPrompt, bos_token: opts.bosToken, eos_token: opts.eosToken });
  } catch (e) {
    throw new RuntimeError('bad-model', `chat template failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
