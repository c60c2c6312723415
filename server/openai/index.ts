// The OpenAI-compatible API of `bouquet serve` (/v1): routes, the SSE writer, request validation, the chat prompt, the server's swarm clients.
export { openAiRouter, type OpenAiApi, type OpenAiContext, type OpenAiOptions } from './routes.ts';
export { openAiError, openAiErrorFromWire, type OpenAiErrorBody, type OpenAiErrorType } from './errors.ts';
export { SseWriter, maxSseBufferedBytes, type SseResponse } from './sse.ts';
export { StopMatcher } from './stop.ts';
export { chatPromptIds, hasChatTemplate } from './template.ts';
export { generateAnswer, promptIdsOf, defaultCompletionTokens, type AnswerResult, type FinishReason } from './generate.ts';
export { SwarmClientPool, type SwarmClientFactory, type SwarmTextClient, type SwarmTextRequest } from './swarm-client.ts';
export {
  openAiBounds, parseChatCompletionRequest, parseCompletionRequest,
  type ChatCompletionRequest, type ChatMessage, type CompletionRequest, type OpenAiGenerationParams,
} from './validate.ts';
