// A chat's prompt: the model's own chat template (tokenizer_config.json `chat_template`), rendered by the one renderer in worker/tokenizer.
import { CoordinatorApiError } from '../../core/api/index.ts';
import { HfTokenizer, isRuntimeError, type TextTokenizer } from '../../worker/index.ts';
import type { ChatMessage } from './validate.ts';

/** True when the tokenizer carries a chat template (only Hugging Face tokenizers can). */
export function hasChatTemplate(tokenizer: TextTokenizer): tokenizer is HfTokenizer {
  return tokenizer instanceof HfTokenizer && tokenizer.chatTemplate !== null;
}

/**
 * Prompt ids of a chat: the messages rendered with the model's chat template and a generation
 * prompt (as `bouquet generate --chat` and the chat page do), the special tokens it writes encoded
 * as their ids. Throws `no-chat-template` (400) for a model without one, `bad-request` for a
 * template that fails on these messages (a template may refuse, e.g., two system messages).
 */
export function chatPromptIds(tokenizer: TextTokenizer, messages: readonly ChatMessage[], modelId: string): number[] {
  if (!hasChatTemplate(tokenizer)) {
    throw new CoordinatorApiError('no-chat-template', `model '${modelId.slice(0, 256)}' has no chat template (tokenizer_config.json chat_template): use POST /v1/completions`, 'model');
  }
  let text: string;
  try {
    text = tokenizer.applyChatTemplate(messages.map((m) => ({ role: m.role, content: m.content })), { addGenerationPrompt: true });
  } catch (e) {
    if (isRuntimeError(e)) throw new CoordinatorApiError('bad-request', e.message, 'messages');
    throw e;
  }
  return tokenizer.encodeTemplated(text);
}
