// The in-thread runtime's options, checked and resolved: backend, weight precision, session slot length, cache budget.
import { cacheBudgetBytes, cacheBytesPerTokenBlock, KvCacheBudget } from '../../core/cache/index.ts';
import type { ModelShape, WeightPrecision } from '../../core/model/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { RuntimeError } from '../errors.ts';
import { computeType, type OpFlavour } from '../graph/index.ts';
import { chooseBackend, defaultThreadSpinning, type ChosenBackend, type Ort } from './backend.ts';
import type { RuntimeOptions } from './types.ts';

/** What an in-thread runtime runs with, after its options are checked. */
export interface RuntimeConfig {
  precision: WeightPrecision;
  ops: OpFlavour;
  /** Longest session, tokens. */
  slotTokens: number;
  /** Bytes of one token block (16 tokens of one block's keys and values). */
  tokenBlockBytes: number;
  blocks: BlockSpan | null;
  threadSpinning: boolean;
  prepackWeights: boolean;
  externalWeights: boolean;
}

/** Checks `options` against `shape` (coded RuntimeErrors), picks the backend and sizes the KV cache budget. */
export async function resolveRuntimeConfig(ort: Ort, shape: ModelShape, options: RuntimeOptions): Promise<{ backend: ChosenBackend; config: RuntimeConfig; cache: KvCacheBudget }> {
  const ops = options.ops ?? 'contrib';
  const slotTokens = options.maxSessionTokens ?? Math.min(shape.maxSeqLen, 2048);
  if (!Number.isInteger(slotTokens) || slotTokens < 1) throw new RuntimeError('bad-input', `maxSessionTokens must be a positive integer (got ${slotTokens})`);
  if (slotTokens > shape.maxSeqLen) {
    throw new RuntimeError('sequence-too-long', `maxSessionTokens ${slotTokens} exceeds the model's maximum sequence length ${shape.maxSeqLen}`);
  }
  const blocks = options.blocks ?? null;
  if (blocks !== null && (!Number.isInteger(blocks.start) || !Number.isInteger(blocks.end) || blocks.start < 0 || blocks.end > shape.numBlocks || blocks.start >= blocks.end)) {
    throw new RuntimeError('bad-input', `block span [${blocks.start}, ${blocks.end}) is not inside [0, ${shape.numBlocks})`);
  }
  const backend = await chooseBackend(ort, options.backends ?? ['webgpu', 'wasm'], options.threads);
  const asked = options.precision ?? 'fp32';
  const precision: WeightPrecision = asked === 'auto' ? (backend.name === 'webgpu' && backend.shaderF16 ? 'fp16' : 'fp32') : asked;
  if (precision === 'fp16' && backend.name === 'webgpu' && !backend.shaderF16) {
    throw new RuntimeError('bad-input', 'fp16 asked for, but the WebGPU adapter lacks shader-f16: use fp32 or q4');
  }
  const cachePrecision = computeType(precision) === 'float16' ? 'fp16' : 'fp32';
  const tokenBlockBytes = cacheBytesPerTokenBlock(shape, cachePrecision);
  const budgetBytes = options.cacheBudgetBytes ?? cacheBudgetBytes(shape, 8, slotTokens, cachePrecision);
  const cache = KvCacheBudget.ofBytes(budgetBytes, tokenBlockBytes, slotTokens);
  const config: RuntimeConfig = {
    precision, ops, slotTokens, tokenBlockBytes, blocks, threadSpinning: options.threadSpinning ?? defaultThreadSpinning(),
    prepackWeights: options.prepackWeights ?? true, externalWeights: options.externalWeights ?? true,
  };
  return { backend, config, cache };
}
