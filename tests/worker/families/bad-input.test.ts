// Bad family models: truncated weights, a missing shard, an unknown family, config fields whose math is not implemented — each a coded error.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelShapeError, shapeFromHfConfig } from '../../../core/model/index.ts';
import { RuntimeError } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { tinyFamilyConfigs, tinyFamilyTensors, writeTinyFamily } from '../support/tiny-families.ts';
import { safetensorsBytes, type TinyTensor } from '../support/tiny-model.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RuntimeError || e instanceof ModelShapeError) return e.code;
    return `uncoded: ${String(e)}`;
  }
  return 'no error';
}

function configCode(edit: (c: Record<string, unknown>) => void, family = 'llama-3.2'): string {
  const c = structuredClone(tinyFamilyConfigs[family] ?? {});
  edit(c);
  try {
    shapeFromHfConfig(c);
  } catch (e) {
    return e instanceof ModelShapeError ? e.code : `uncoded: ${String(e)}`;
  }
  return 'no error';
}

/** Opens the model and reads every tensor (what loading a full runtime does). */
async function loadAll(dir: string): Promise<void> {
  const w = await openModelWeights(folderModelFiles(dir));
  for (let b = 0; b < w.shape.numBlocks; b++) await w.block(b);
  await w.embedding();
  await w.finalNorm();
  await w.lmHead();
}

/** Writes the tensors as two shards and their index; returns the folder. */
async function writeSharded(name: string): Promise<{ dir: string; second: string }> {
  const m = await writeTinyFamily(name);
  const all = Object.entries(tinyFamilyTensors(m.config));
  const half = Math.floor(all.length / 2);
  const shards: [string, [string, TinyTensor][]][] = [['model-00001-of-00002.safetensors', all.slice(0, half)], ['model-00002-of-00002.safetensors', all.slice(half)]];
  const weightMap: Record<string, string> = {};
  for (const [file, tensors] of shards) {
    await writeFile(join(m.dir, file), safetensorsBytes(Object.fromEntries(tensors)));
    for (const [t] of tensors) weightMap[t] = file;
  }
  await rm(join(m.dir, 'model.safetensors'));
  await writeFile(join(m.dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return { dir: m.dir, second: shards[1]?.[0] ?? '' };
}

describe('bad family weights', () => {
  it('a sharded Gemma 3 checkpoint loads; with its second shard missing it is bad-weights', async () => {
    const { dir, second } = await writeSharded('gemma-3');
    expect(await codeOf(loadAll(dir))).toBe('no error');
    await rm(join(dir, second));
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a truncated Phi-3 safetensors file (fused projections) is bad-weights', async () => {
    const m = await writeTinyFamily('phi-3.5-mini');
    const bytes = safetensorsBytes(m.tensors);
    await writeFile(join(m.dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 1000));
    expect(await codeOf(loadAll(m.dir))).toBe('bad-weights');
  });

  it('a Qwen3 checkpoint without its q_norm tensors is bad-weights', async () => {
    const m = await writeTinyFamily('qwen3');
    const kept = Object.fromEntries(Object.entries(m.tensors).filter(([k]) => !k.endsWith('q_norm.weight')));
    await writeFile(join(m.dir, 'model.safetensors'), safetensorsBytes(kept));
    expect(await codeOf(loadAll(m.dir))).toBe('bad-weights');
  });

  it('an unknown family is bad-model when opened, bad-model-config when parsed', async () => {
    const m = await writeTinyFamily('llama-2', { config: (c) => { c.model_type = 'falcon'; } });
    expect(await codeOf(loadAll(m.dir))).toBe('bad-model');
    expect(configCode((c) => { c.model_type = 'gemma'; })).toBe('bad-model-config');
    expect(configCode((c) => { c.model_type = 'gemma3n'; }, 'gemma-3')).toBe('bad-model-config');
  });

  it('an unsupported rope_scaling type is refused when opened (bad-model), never ignored', async () => {
    const m = await writeTinyFamily('llama-3.2', { config: (c) => { c.rope_scaling = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64 }; } });
    expect(await codeOf(loadAll(m.dir))).toBe('bad-model');
  });
});

describe('config fields that change the math and are not implemented: bad-model-config', () => {
  const cases: [string, string, (c: Record<string, unknown>) => void][] = [
    ['rope_scaling yarn', 'llama-3.2', (c) => { c.rope_scaling = { rope_type: 'yarn', factor: 4 }; }],
    ['rope_scaling dynamic (older `type` key)', 'llama-2', (c) => { c.rope_scaling = { type: 'dynamic', factor: 2 }; }],
    ['llama3 rope_scaling without low_freq_factor', 'llama-3.2', (c) => { delete (c.rope_scaling as Record<string, unknown>).low_freq_factor; }],
    ['longrope factors of the wrong length', 'phi-3.5-mini', (c) => { (c.rope_scaling as Record<string, unknown>).short_factor = [1, 2]; }],
    ['partial_rotary_factor 0.75 (Phi-4-mini)', 'phi-3.5-mini', (c) => { c.partial_rotary_factor = 0.75; }],
    ['mlp_bias', 'llama-2', (c) => { c.mlp_bias = true; }],
    ['attention_bias on Llama (adds an o_proj bias)', 'llama-2', (c) => { c.attention_bias = true; }],
    ['hidden_act gelu on Llama', 'llama-2', (c) => { c.hidden_act = 'gelu'; }],
    ['hidden_activation gelu (exact) on Gemma', 'gemma-2', (c) => { c.hidden_activation = 'gelu'; }],
    ['use_sliding_window on Qwen2', 'qwen2.5', (c) => { c.use_sliding_window = true; }],
    ['final_logit_softcapping on a non-Gemma family', 'mistral', (c) => { c.final_logit_softcapping = 30; }],
    ['rope_scaling on Gemma 2', 'gemma-2', (c) => { c.rope_scaling = { rope_type: 'linear', factor: 2 }; }],
    ['layer_types of the wrong length', 'gemma-3', (c) => { c.layer_types = ['sliding_attention', 'full_attention']; }],
    ['layer_types with an unknown kind', 'gemma-2', (c) => { c.layer_types = ['sliding_attention', 'chunked_attention', 'sliding_attention', 'full_attention']; }],
    ['use_bidirectional_attention (EmbeddingGemma)', 'gemma-3', (c) => { c.use_bidirectional_attention = true; }],
  ];
  for (const [what, family, edit] of cases) {
    it(what, () => {
      expect(configCode(edit, family)).toBe('bad-model-config');
    });
  }

  it('every tiny family config parses', () => {
    for (const name of Object.keys(tinyFamilyConfigs)) expect([name, configCode(() => undefined, name)]).toEqual([name, 'no error']);
  });
});
