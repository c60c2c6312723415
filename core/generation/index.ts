// The one generation loop (pure: no DOM, no Node), used by `bouquet generate`, the client session and the chat pages.
export { generateTokens, greedy, stopTokenIdsOf } from './loop.ts';
export type {
  Sampler, GenerationStep, TokenDecoder, GeneratedToken, GenerateOptions, StopReason, GenerationOutput,
} from './types.ts';
