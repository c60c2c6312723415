// The chat page's StartChat: the one chat wiring (web/chat) seen as the ChatEngine the page drives.
import { startChatClient } from '../../chat/index.ts';
import { BouquetError } from '../../../core/errors/index.ts';
import { HfTokenizer } from '../../../worker/index.ts';
import type { ChatEngine, StartChat } from './chat-engine.ts';
import { encodeConversation } from './chat-prompt.ts';

/** The page's StartChat. */
export const startChatInPage: StartChat = async (origin, onProgress, modelId): Promise<ChatEngine> => {
  const chat = await startChatClient({ origin, backends: ['webgpu', 'wasm'], onProgress, ...(modelId !== undefined ? { modelId } : {}) });
  const tokenizer = chat.tokenizer;
  return {
    modelId: chat.info.id,
    maxSeqLen: chat.maxSeqLen,
    hasChatTemplate: tokenizer instanceof HfTokenizer && tokenizer.chatTemplate !== null,
    runtimeDescription: chat.runtimeDescription,
    encodeConversation: (turns) => encodeConversation(tokenizer, turns),
    generate: (promptIds, o) => {
      const s = o.settings;
      return chat.generate(promptIds, {
        sampling: { temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty },
        seed: s.seed,
        maxNewTokens: s.maxNewTokens,
        signal: o.signal,
        onToken: o.onToken,
        onText: o.onText,
        onRoute: o.onRoute,
        onFailover: o.onFailover,
        onStatus: (text) => o.onStatus(text),
      });
    },
    missingBlocks: () => chat.missingBlocks(),
    reportCoverageFailure: (missing, message) => {
      const first = missing[0];
      chat.reportFailure(new BouquetError('no-route', message, first !== undefined ? { spanStart: first.start, spanEnd: first.end } : undefined), 'coverage');
    },
    close: () => chat.close(),
  };
};
