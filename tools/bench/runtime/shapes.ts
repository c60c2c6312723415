// Block shapes the runtime benchmarks time: Llama-3.2-1B and Llama-3-8B (synthetic weights of these shapes).
import type { ModelShape } from '../../../core/model/index.ts';

/** Llama-3.2-1B's block shape (hidden 2048, 32 query / 8 KV heads of 64, FFN 8192). */
export const llama1B: ModelShape = {
  family: 'llama', numBlocks: 16, hiddenSize: 2048, numHeads: 32, numKvHeads: 8, headDim: 64, ffnSize: 8192, vocabSize: 128256,
  maxSeqLen: 2048, rmsNormEps: 1e-5, ropeTheta: 500000, ropeStyle: 'rotate-half', tiedEmbeddings: true, attentionBias: false,
};

/** Llama-3-8B's block shape (hidden 4096, 32 query / 8 KV heads of 128, FFN 14336): ~0.9 GB per block in fp32. */
export const llama8B: ModelShape = {
  family: 'llama', numBlocks: 32, hiddenSize: 4096, numHeads: 32, numKvHeads: 8, headDim: 128, ffnSize: 14336, vocabSize: 128256,
  maxSeqLen: 8192, rmsNormEps: 1e-5, ropeTheta: 500000, ropeStyle: 'rotate-half', tiedEmbeddings: false, attentionBias: false,
};

/** The shapes by the name the benchmark prints. */
export const benchShapes: Record<string, ModelShape> = { 'Llama-3.2-1B': llama1B, 'Llama-3-8B': llama8B };
