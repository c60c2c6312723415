// Finds and loads the tokenizer beside a model: tokenizer.json (Hugging Face) or tokenizer.bin / tok<vocab>.bin (llama2.c).
import type { ModelShape } from '../../core/model/index.ts';
import { RuntimeError } from '../errors.ts';
import type { ModelFiles } from '../weights/index.ts';
import { HfTokenizer } from './hf.ts';
import { parseLlama2cTokenizer } from './llama2c.ts';
import type { TextTokenizer } from './types.ts';

async function readAll(files: ModelFiles, name: string): Promise<Uint8Array> {
  const src = files.open(name);
  return src.read(0, await src.size());
}

async function readJsonFile(files: ModelFiles, name: string): Promise<unknown> {
  try {
    return JSON.parse(new TextDecoder().decode(await readAll(files, name)));
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    throw new RuntimeError('bad-model', `${files.location}/${name} is not valid JSON`);
  }
}

/** Loads the tokenizer of a model folder: tokenizer.json when present, else llama2.c's tokenizer.bin or tok<vocab>.bin. */
export async function openTokenizer(files: ModelFiles, shape: ModelShape): Promise<TextTokenizer> {
  if (await files.exists('tokenizer.json')) {
    const json = await readJsonFile(files, 'tokenizer.json');
    const config = (await files.exists('tokenizer_config.json')) ? await readJsonFile(files, 'tokenizer_config.json') : {};
    const ids: { bos?: number; eos?: number | number[] } = {};
    if (shape.bosTokenId !== undefined) ids.bos = shape.bosTokenId;
    if (shape.eosTokenId !== undefined) ids.eos = shape.eosTokenId;
    return new HfTokenizer(json, (config ?? {}) as Record<string, unknown>, ids);
  }
  for (const name of ['tokenizer.bin', `tok${shape.vocabSize}.bin`]) {
    if (await files.exists(name)) return parseLlama2cTokenizer(await readAll(files, name), shape.vocabSize, `${files.location}/${name}`);
  }
  throw new RuntimeError('bad-model', `${files.location}: no tokenizer (tokenizer.json, tokenizer.bin or tok${shape.vocabSize}.bin)`);
}
