// Model shapes: the two stories260K layouts agree, and s_m / s_c for Llama-2-7B match hand arithmetic.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  blockBytes,
  blockParams,
  cacheBytesPerBlock,
  llama2cHeaderBytes,
  ModelShapeError,
  shapeFromHfConfig,
  shapeFromLlama2cHeader,
} from '../../../core/model/index.ts';

const models = new URL('../../../../shared/models/', import.meta.url);

describe('stories260K', () => {
  it('config.json and the llama2.c header give the same shape (except family and rope style)', () => {
    const hf = shapeFromHfConfig(JSON.parse(readFileSync(new URL('stories260K-hf/config.json', models), 'utf8')));
    const bin = readFileSync(new URL('stories260K/stories260K.bin', models));
    const l2c = shapeFromLlama2cHeader(bin.subarray(0, llama2cHeaderBytes));
    expect(hf.family).toBe('llama');
    expect(l2c.family).toBe('llama2c');
    expect(hf.ropeStyle).toBe('rotate-half');
    expect(l2c.ropeStyle).toBe('interleaved');
    const a = { ...hf, family: 'any', ropeStyle: 'any' };
    const b = { ...l2c, family: 'any', ropeStyle: 'any' };
    expect(a).toEqual(b);
    expect(hf).toMatchObject({ numBlocks: 5, hiddenSize: 64, numHeads: 8, numKvHeads: 4, headDim: 8, ffnSize: 172, vocabSize: 512, maxSeqLen: 512 });
  });
  it('a truncated header is a clear error', () => {
    expect(() => shapeFromLlama2cHeader(new Uint8Array(10))).toThrow(ModelShapeError);
  });
});

describe('Llama-2-7B sizes by hand', () => {
  const llama2_7b = shapeFromHfConfig({
    model_type: 'llama',
    hidden_size: 4096,
    intermediate_size: 11008,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    vocab_size: 32000,
    max_position_embeddings: 4096,
  });
  it('s_m: 4·4096² (attention) + 3·4096·11008 (SwiGLU) + 2·4096 (norms) parameters, 2 bytes each in fp16', () => {
    expect(blockParams(llama2_7b)).toBe(4 * 4096 ** 2 + 3 * 4096 * 11008 + 2 * 4096);
    expect(blockBytes(llama2_7b, 'fp16')).toBe(404_766_720);
    // The whole model then has Meta's published 6,738,415,616 parameters (32 blocks, embeddings, head, final norm).
    expect(32 * blockParams(llama2_7b) + 2 * 32000 * 4096 + 4096).toBe(6_738_415_616);
    // algorithms.md §5 quotes s_m ≈ 0.4375 GB = 7e9 / 32 · 2 bytes (the rounded 7B spread over 32 blocks):
    // the exact block is 7.5 % smaller because 7B also counts the embeddings and the LM head.
    expect(blockBytes(llama2_7b, 'fp16') / 0.4375e9).toBeCloseTo(0.925, 3);
  });
  it('s_c = 2 · kv_dim · tokens · 2 bytes: 0.0336 GB per block at 2048 tokens, twice that at 4096', () => {
    // algorithms.md §5's s_c ≈ 0.0336 GB matches 2048 tokens in fp16 (l_in ≈ 2048 dominates its workload).
    expect(cacheBytesPerBlock(llama2_7b, 2048, 'fp16')).toBe(2 * 4096 * 2048 * 2);
    expect(cacheBytesPerBlock(llama2_7b, 2048, 'fp16') / 1e9).toBeCloseTo(0.0336, 4);
    // At the model's full 4096-token context a session needs 0.0671 GB per block.
    expect(cacheBytesPerBlock(llama2_7b, 4096, 'fp16') / 1e9).toBeCloseTo(0.0671, 4);
  });
});
