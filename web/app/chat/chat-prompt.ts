// The prompt of a conversation: the model's chat template for instruct models, plain text continuation otherwise.
import { HfTokenizer, type TextTokenizer } from '../../../worker/index.ts';
import type { ChatTurn } from './chat-engine.ts';

/** Prompt ids for a conversation: the tokenizer's chat template when it has one, else the last user text after BOS. */
export function encodeConversation(tokenizer: TextTokenizer, turns: ChatTurn[]): number[] {
  if (tokenizer instanceof HfTokenizer && tokenizer.chatTemplate !== null) {
    const text = tokenizer.applyChatTemplate(turns, { addGenerationPrompt: true });
    // The template writes the BOS token itself when the model wants one.
    return tokenizer.encode(text, { bos: false });
  }
  const last = [...turns].reverse().find((t) => t.role === 'user');
  return tokenizer.encode(last?.content ?? '', { bos: true });
}
