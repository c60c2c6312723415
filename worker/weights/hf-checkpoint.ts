// Hugging Face checkpoints: config.json + model.safetensors (or shards with their index), read block by block.
import { shapeFromHfConfig, ModelShapeError, type ModelShape } from '../../core/model/index.ts';
import { RuntimeError } from '../errors.ts';
import { SafetensorsFile } from './safetensors.ts';
import type { BlockWeights, ModelFiles, ModelWeights, WeightPart } from './types.ts';
import { assertFinite, readJson } from './util.ts';

const indexName = 'model.safetensors.index.json';
const singleName = 'model.safetensors';

/** Opens a Hugging Face layout model: parses config.json and the safetensors headers (not the tensors). */
export async function openHfCheckpoint(files: ModelFiles): Promise<ModelWeights> {
  const config = await readJson(files, 'config.json');
  let shape: ModelShape;
  try {
    shape = shapeFromHfConfig(config);
  } catch (e) {
    if (e instanceof ModelShapeError) throw new RuntimeError('bad-model', `${files.location}: ${e.message}`);
    throw e;
  }
  const byTensor = new Map<string, SafetensorsFile>();
  if (await files.exists(indexName)) {
    const index = await readJson(files, indexName);
    const map = (index as { weight_map?: unknown }).weight_map;
    if (typeof map !== 'object' || map === null) throw new RuntimeError('bad-weights', `${files.location}/${indexName}: no weight_map`);
    const shards = new Map<string, SafetensorsFile>();
    for (const [tensor, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== 'string') throw new RuntimeError('bad-weights', `${indexName}: tensor '${tensor}' maps to a non-string`);
      let shard = shards.get(file);
      if (shard === undefined) {
        shard = await SafetensorsFile.open(files.open(file));
        shards.set(file, shard);
      }
      if (!shard.tensors.has(tensor)) throw new RuntimeError('bad-weights', `${file}: tensor '${tensor}' named by ${indexName} is missing`);
      byTensor.set(tensor, shard);
    }
  } else if (await files.exists(singleName)) {
    const file = await SafetensorsFile.open(files.open(singleName));
    for (const name of file.tensors.keys()) byTensor.set(name, file);
  } else {
    throw new RuntimeError('bad-model', `${files.location}: neither ${singleName} nor ${indexName} found`);
  }
  return new HfCheckpoint(shape, byTensor, files.location);
}

class HfCheckpoint implements ModelWeights {
  constructor(
    readonly shape: ModelShape,
    private readonly byTensor: Map<string, SafetensorsFile>,
    private readonly location: string,
  ) {
    if (!byTensor.has('model.embed_tokens.weight')) throw new RuntimeError('bad-weights', `${location}: tensor 'model.embed_tokens.weight' is missing`);
    const hasLayer = byTensor.has(`model.layers.${shape.numBlocks - 1}.input_layernorm.weight`);
    if (!hasLayer) {
      throw new RuntimeError('bad-weights', `${location}: config says ${shape.numBlocks} layers but 'model.layers.${shape.numBlocks - 1}.*' is missing (config and weights do not match)`);
    }
  }

  private async t(name: string, dims: number[]): Promise<Float32Array> {
    const file = this.byTensor.get(name);
    if (file === undefined) throw new RuntimeError('bad-weights', `${this.location}: tensor '${name}' is missing`);
    const data = await file.readFloat32(name, dims);
    assertFinite(data, `${this.location}: tensor '${name}'`);
    return data;
  }

  async block(i: number): Promise<BlockWeights> {
    const s = this.shape;
    if (!Number.isInteger(i) || i < 0 || i >= s.numBlocks) throw new RuntimeError('bad-input', `block ${i} is outside [0, ${s.numBlocks})`);
    const p = `model.layers.${i}.`;
    const d = s.hiddenSize;
    const q = s.numHeads * s.headDim;
    const kv = s.numKvHeads * s.headDim;
    const w: BlockWeights = {
      attnNorm: await this.t(`${p}input_layernorm.weight`, [d]),
      wq: await this.t(`${p}self_attn.q_proj.weight`, [q, d]),
      wk: await this.t(`${p}self_attn.k_proj.weight`, [kv, d]),
      wv: await this.t(`${p}self_attn.v_proj.weight`, [kv, d]),
      wo: await this.t(`${p}self_attn.o_proj.weight`, [d, q]),
      ffnNorm: await this.t(`${p}post_attention_layernorm.weight`, [d]),
      wGate: await this.t(`${p}mlp.gate_proj.weight`, [s.ffnSize, d]),
      wUp: await this.t(`${p}mlp.up_proj.weight`, [s.ffnSize, d]),
      wDown: await this.t(`${p}mlp.down_proj.weight`, [d, s.ffnSize]),
    };
    if (s.attentionBias) {
      w.bq = await this.t(`${p}self_attn.q_proj.bias`, [q]);
      w.bk = await this.t(`${p}self_attn.k_proj.bias`, [kv]);
      w.bv = await this.t(`${p}self_attn.v_proj.bias`, [kv]);
    }
    return w;
  }

  embedding(): Promise<Float32Array> {
    return this.t('model.embed_tokens.weight', [this.shape.vocabSize, this.shape.hiddenSize]);
  }

  finalNorm(): Promise<Float32Array> {
    return this.t('model.norm.weight', [this.shape.hiddenSize]);
  }

  lmHead(): Promise<Float32Array> {
    if (this.shape.tiedEmbeddings && !this.byTensor.has('lm_head.weight')) return this.embedding();
    return this.t('lm_head.weight', [this.shape.vocabSize, this.shape.hiddenSize]);
  }

  storedBytes(part: WeightPart): number {
    let sum = 0;
    for (const name of this.partTensors(part)) {
      const entry = this.byTensor.get(name)?.tensors.get(name);
      if (entry === undefined) throw new RuntimeError('bad-weights', `${this.location}: tensor '${name}' is missing`);
      sum += entry.end - entry.begin;
    }
    return sum;
  }

  /** Names of the tensors that reading `part` reads (the same ones block(), embedding()… read). */
  private partTensors(part: WeightPart): string[] {
    switch (part.kind) {
      case 'block': {
        const i = part.index;
        if (!Number.isInteger(i) || i < 0 || i >= this.shape.numBlocks) throw new RuntimeError('bad-input', `block ${i} is outside [0, ${this.shape.numBlocks})`);
        const p = `model.layers.${i}.`;
        const names = ['input_layernorm.weight', 'self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight',
          'post_attention_layernorm.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight'];
        if (this.shape.attentionBias) names.push('self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias');
        return names.map((n) => p + n);
      }
      case 'embedding':
        return ['model.embed_tokens.weight'];
      case 'finalNorm':
        return ['model.norm.weight'];
      case 'lmHead':
        return this.shape.tiedEmbeddings && !this.byTensor.has('lm_head.weight') ? ['model.embed_tokens.weight'] : ['lm_head.weight'];
      default: {
        const never: never = part;
        throw new RuntimeError('bad-input', `unknown weight part ${JSON.stringify(never)}`);
      }
    }
  }
}
