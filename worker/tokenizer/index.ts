// Tokenizers of the block runtime's client side: public surface of worker/tokenizer.
export type { TextTokenizer, StreamDecoder } from './types.ts';
export { Llama2cTokenizer, parseLlama2cTokenizer } from './llama2c.ts';
export { HfTokenizer, renderChatTemplate } from './hf.ts';
export { openTokenizer } from './open.ts';
