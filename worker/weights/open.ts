// Opens a model folder of either layout: Hugging Face (config.json + safetensors) or llama2.c (.bin checkpoint).
import { RuntimeError } from '../errors.ts';
import { openHfCheckpoint } from './hf-checkpoint.ts';
import { openLlama2cCheckpoint } from './llama2c.ts';
import type { ModelFiles, ModelWeights } from './types.ts';

/** Layout of a model folder. */
export type ModelLayout = { kind: 'hf' } | { kind: 'llama2c'; checkpoint: string };

/** Names that are llama2.c tokenizers, not checkpoints. */
export function isLlama2cTokenizerName(name: string): boolean {
  return /^tok(enizer)?\d*\.bin$/.test(name);
}

/**
 * Detects the layout: config.json ⇒ Hugging Face; else the one llama2.c checkpoint (`checkpoint` names it,
 * otherwise the single *.bin that is not a tokenizer, which needs a listable store).
 */
export async function detectLayout(files: ModelFiles, checkpoint?: string): Promise<ModelLayout> {
  if (checkpoint !== undefined) return { kind: 'llama2c', checkpoint };
  if (await files.exists('config.json')) return { kind: 'hf' };
  if (files.list === undefined) throw new RuntimeError('bad-model', `${files.location}: no config.json; name the llama2.c checkpoint file`);
  const bins = (await files.list()).filter((n) => n.endsWith('.bin') && !isLlama2cTokenizerName(n));
  const only = bins[0];
  if (bins.length !== 1 || only === undefined) {
    throw new RuntimeError('bad-model', `${files.location}: no config.json, and ${bins.length === 0 ? 'no' : 'several'} llama2.c checkpoints (*.bin) — expected exactly one`);
  }
  return { kind: 'llama2c', checkpoint: only };
}

/** Opens the weights of a model folder (headers only; tensors are read per block when asked). */
export async function openModelWeights(files: ModelFiles, layout?: ModelLayout): Promise<ModelWeights> {
  const l = layout ?? (await detectLayout(files));
  switch (l.kind) {
    case 'hf':
      return openHfCheckpoint(files);
    case 'llama2c':
      return openLlama2cCheckpoint(files.open(l.checkpoint));
    default: {
      const never: never = l;
      throw new RuntimeError('bad-model', `unknown layout ${JSON.stringify(never)}`);
    }
  }
}
