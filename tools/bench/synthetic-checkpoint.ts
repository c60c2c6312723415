// Writes a whole llama2.c checkpoint of syntheticWeights (any size) into a model folder, for swarm benches and tests that need real weight.
import { copyFile, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { ModelShape } from '../../core/model/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { syntheticWeights } from '../../worker/index.ts';

/** What a synthetic checkpoint is made of: the llama2.c header's numbers. */
export interface SyntheticCheckpointShape {
  numBlocks: number;
  hiddenSize: number;
  ffnSize: number;
  numHeads: number;
  /** Default numHeads (no GQA). */
  numKvHeads?: number;
  /** Must match the tokenizer's vocabulary (stories260K's tok512.bin: 512). */
  vocabSize: number;
  maxSeqLen: number;
}

/** A 103M-parameter shape (d 1024, FFN 2816, 8 blocks of 12.8M, vocabulary 512): ~412 MB in fp32. */
export const synthetic100M: SyntheticCheckpointShape = { numBlocks: 8, hiddenSize: 1024, ffnSize: 2816, numHeads: 16, vocabSize: 512, maxSeqLen: 512 };

/** Parameters of a checkpoint of this shape (blocks + tied embedding). */
export function syntheticParams(s: SyntheticCheckpointShape): number {
  const kv = ((s.numKvHeads ?? s.numHeads) * s.hiddenSize) / s.numHeads;
  const block = 2 * s.hiddenSize + 2 * s.hiddenSize * s.hiddenSize + 2 * s.hiddenSize * kv + 3 * s.hiddenSize * s.ffnSize;
  return s.numBlocks * block + s.vocabSize * s.hiddenSize + s.hiddenSize;
}

/**
 * Writes `<dir>/<name>.bin` (llama2.c v0 layout, tied classifier) holding syntheticWeights(shape, seed), and copies
 * `tokenizerPath` next to it, so `bouquet serve --model <dir>` serves it. Blocks are generated one at a time and
 * written at their offsets: memory stays at one block. Returns the folder and the file size in bytes.
 */
export async function writeSyntheticCheckpoint(dir: string, s: SyntheticCheckpointShape, tokenizerPath: string, opts: { name?: string; seed?: number } = {}): Promise<{ dir: string; bytes: number }> {
  if (s.hiddenSize % s.numHeads !== 0) throw new BouquetError('bad-argument', `hiddenSize ${s.hiddenSize} is not a multiple of numHeads ${s.numHeads}`);
  const numKvHeads = s.numKvHeads ?? s.numHeads;
  const headDim = s.hiddenSize / s.numHeads;
  const shape: ModelShape = {
    family: 'llama2c', numBlocks: s.numBlocks, hiddenSize: s.hiddenSize, numHeads: s.numHeads, numKvHeads, headDim, ffnSize: s.ffnSize,
    vocabSize: s.vocabSize, maxSeqLen: s.maxSeqLen, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved', tiedEmbeddings: true, attentionBias: false,
    bosTokenId: 1, eosTokenId: 2,
  };
  const w = syntheticWeights(shape, opts.seed ?? 1);
  const d = s.hiddenSize;
  const L = s.numBlocks;
  const q = s.numHeads * headDim;
  const kv = numKvHeads * headDim;
  await mkdir(dir, { recursive: true });
  const name = opts.name ?? path.basename(dir);
  const file = path.join(dir, `${name}.bin`);
  const fh = await open(file, 'w');
  try {
    const header = Int32Array.from([d, s.ffnSize, L, s.numHeads, numKvHeads, s.vocabSize, s.maxSeqLen]);
    await fh.write(new Uint8Array(header.buffer), 0, header.byteLength, 0);
    let at = header.byteLength;
    const put = async (a: Float32Array, offsetFloats: number): Promise<void> => {
      await fh.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), 0, a.byteLength, header.byteLength + 4 * offsetFloats);
    };
    // llama2.c order: embedding, then each kind stacked over layers, final norm, two rotary tables, (tied: no classifier).
    const region = (per: number, times = 1): number => {
      const r = at;
      at += per * times;
      return r;
    };
    at = 0;
    const embedding = region(s.vocabSize * d);
    const attnNorm = region(d, L);
    const wq = region(d * q, L);
    const wk = region(d * kv, L);
    const wv = region(d * kv, L);
    const wo = region(q * d, L);
    const ffnNorm = region(d, L);
    const w1 = region(d * s.ffnSize, L);
    const w2 = region(s.ffnSize * d, L);
    const w3 = region(d * s.ffnSize, L);
    const finalNorm = region(d);
    const rotary = region((s.maxSeqLen * headDim) / 2, 2);
    await put(await w.embedding(), embedding);
    for (let b = 0; b < L; b++) {
      const bw = await w.block(b);
      await put(bw.attnNorm, attnNorm + b * d);
      await put(bw.wq, wq + b * d * q);
      await put(bw.wk, wk + b * d * kv);
      await put(bw.wv, wv + b * d * kv);
      await put(bw.wo, wo + b * q * d);
      await put(bw.ffnNorm, ffnNorm + b * d);
      await put(bw.wGate, w1 + b * d * s.ffnSize);
      await put(bw.wDown, w2 + b * s.ffnSize * d);
      await put(bw.wUp, w3 + b * d * s.ffnSize);
    }
    await put(await w.finalNorm(), finalNorm);
    await put(new Float32Array(s.maxSeqLen * headDim), rotary); // unused: rotary is computed
  } finally {
    await fh.close();
  }
  await copyFile(tokenizerPath, path.join(dir, path.basename(tokenizerPath)));
  return { dir, bytes: 28 + 4 * (syntheticParams(s) + s.maxSeqLen * headDim) };
}
