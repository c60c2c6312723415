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
        if (!(await files.exists(file))) throw new RuntimeError('bad-weights', `${files.location}/${indexName}: shard '${file}' (holding '${tensor}') is missing; download it again`);
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
  return new HfCheckpoint(shape, byTensor, files.location, tensorPrefixes(shape, byTensor));
}

/** Where the decoder's tensors sit: `model.` and `lm_head.weight`, or inside a multimodal Gemma 3 checkpoint. */
interface TensorPrefixes {
  /** Before `embed_tokens`, `layers.N.`, `norm`. */
  decoder: string;
  lmHead: string;
}

function tensorPrefixes(shape: ModelShape, byTensor: Map<string, SafetensorsFile>): TensorPrefixes {
  if (shape.family !== 'gemma3') return { decoder: 'model.', lmHead: 'lm_head.weight' };
  // Gemma 3 4B+ ships as Gemma3ForConditionalGeneration: the text decoder under language_model (older
  // checkpoints) or model.language_model (transformers ≥ 4.52); the vision tower is not read.
  return byTensor.has('language_model.model.embed_tokens.weight')
    ? { decoder: 'language_model.model.', lmHead: 'language_model.lm_head.weight' }
    : { decoder: 'model.language_model.', lmHead: 'lm_head.weight' };
}

class HfCheckpoint implements ModelWeights {
  constructor(
    readonly shape: ModelShape,
    private readonly byTensor: Map<string, SafetensorsFile>,
    private readonly location: string,
    private readonly prefix: TensorPrefixes,
  ) {
    const embed = `${prefix.decoder}embed_tokens.weight`;
    if (!byTensor.has(embed)) throw new RuntimeError('bad-weights', `${location}: tensor '${embed}' is missing`);
    const last = `${prefix.decoder}layers.${shape.numBlocks - 1}.`;
    if (!byTensor.has(`${last}input_layernorm.weight`)) {
      throw new RuntimeError('bad-weights', `${location}: config says ${shape.numBlocks} layers but '${last}*' is missing (config and weights do not match)`);
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
    const n = blockTensorNames(s, i, this.prefix.decoder);
    const d = s.hiddenSize;
    const q = s.numHeads * s.headDim;
    const kv = s.numKvHeads * s.headDim;
    const ffn = s.ffnSize;
    const norm = async (name: string, size: number): Promise<Float32Array> => {
      const w = await this.t(name, [size]);
      // Gemma stores RMSNorm weights as offsets from 1 (Hugging Face multiplies by 1 + w, in float32).
      return unitOffsetNorms(s) ? w.map((v) => 1 + v) : w;
    };
    let wq: Float32Array;
    let wk: Float32Array;
    let wv: Float32Array;
    let wGate: Float32Array;
    let wUp: Float32Array;
    if (n.qkv !== undefined && n.gateUp !== undefined) {
      // Phi-3 fuses q/k/v rows ([q; k; v]) and gate/up rows ([gate; up]); split them into the plain layout.
      const qkv = await this.t(n.qkv, [q + 2 * kv, d]);
      wq = qkv.slice(0, q * d);
      wk = qkv.slice(q * d, (q + kv) * d);
      wv = qkv.slice((q + kv) * d);
      const gateUp = await this.t(n.gateUp, [2 * ffn, d]);
      wGate = gateUp.slice(0, ffn * d);
      wUp = gateUp.slice(ffn * d);
    } else {
      wq = await this.t(n.q, [q, d]);
      wk = await this.t(n.k, [kv, d]);
      wv = await this.t(n.v, [kv, d]);
      wGate = await this.t(n.gate, [ffn, d]);
      wUp = await this.t(n.up, [ffn, d]);
    }
    const w: BlockWeights = {
      attnNorm: await norm(n.attnNorm, d),
      wq,
      wk,
      wv,
      wo: await this.t(n.o, [d, q]),
      ffnNorm: await norm(n.ffnNorm, d),
      wGate,
      wUp,
      wDown: await this.t(n.down, [d, ffn]),
    };
    if (n.bias !== undefined) {
      w.bq = await this.t(n.bias[0], [q]);
      w.bk = await this.t(n.bias[1], [kv]);
      w.bv = await this.t(n.bias[2], [kv]);
    }
    if (n.qkNorm !== undefined) {
      w.qNorm = await norm(n.qkNorm[0], s.headDim);
      w.kNorm = await norm(n.qkNorm[1], s.headDim);
    }
    if (n.sandwich !== undefined) {
      w.postAttnNorm = await norm(n.sandwich[0], d);
      w.postFfnNorm = await norm(n.sandwich[1], d);
    }
    return w;
  }

  embedding(): Promise<Float32Array> {
    return this.t(`${this.prefix.decoder}embed_tokens.weight`, [this.shape.vocabSize, this.shape.hiddenSize]);
  }

  async finalNorm(): Promise<Float32Array> {
    const w = await this.t(`${this.prefix.decoder}norm.weight`, [this.shape.hiddenSize]);
    return unitOffsetNorms(this.shape) ? w.map((v) => 1 + v) : w;
  }

  lmHead(): Promise<Float32Array> {
    if (this.shape.tiedEmbeddings && !this.byTensor.has(this.prefix.lmHead)) return this.embedding();
    return this.t(this.prefix.lmHead, [this.shape.vocabSize, this.shape.hiddenSize]);
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
        return allNames(blockTensorNames(this.shape, i, this.prefix.decoder));
      }
      case 'embedding':
        return [`${this.prefix.decoder}embed_tokens.weight`];
      case 'finalNorm':
        return [`${this.prefix.decoder}norm.weight`];
      case 'lmHead':
        return this.shape.tiedEmbeddings && !this.byTensor.has(this.prefix.lmHead) ? [`${this.prefix.decoder}embed_tokens.weight`] : [this.prefix.lmHead];
      default: {
        const never: never = part;
        throw new RuntimeError('bad-input', `unknown weight part ${JSON.stringify(never)}`);
      }
    }
  }
}

/** Hugging Face names of one block's tensors in the family's layout. */
interface BlockTensorNames {
  attnNorm: string;
  ffnNorm: string;
  q: string;
  k: string;
  v: string;
  o: string;
  gate: string;
  up: string;
  down: string;
  /** Phi-3's fused projections, read instead of q/k/v and gate/up. */
  qkv?: string;
  gateUp?: string;
  bias?: [string, string, string];
  qkNorm?: [string, string];
  /** Gemma's post-attention and post-feed-forward norms. */
  sandwich?: [string, string];
}

/** Gemma's RMSNorm weights are stored as w with the factor 1 + w. */
function unitOffsetNorms(s: ModelShape): boolean {
  return s.family === 'gemma2' || s.family === 'gemma3_text' || s.family === 'gemma3';
}

function blockTensorNames(s: ModelShape, i: number, decoder: string): BlockTensorNames {
  const p = `${decoder}layers.${i}.`;
  const a = `${p}self_attn.`;
  const names: BlockTensorNames = {
    attnNorm: `${p}input_layernorm.weight`,
    // Gemma names its pre-feed-forward norm so; its post_attention_layernorm is the attention output's norm.
    ffnNorm: s.sandwichNorms === true ? `${p}pre_feedforward_layernorm.weight` : `${p}post_attention_layernorm.weight`,
    q: `${a}q_proj.weight`,
    k: `${a}k_proj.weight`,
    v: `${a}v_proj.weight`,
    o: `${a}o_proj.weight`,
    gate: `${p}mlp.gate_proj.weight`,
    up: `${p}mlp.up_proj.weight`,
    down: `${p}mlp.down_proj.weight`,
  };
  if (s.family === 'phi3') {
    names.qkv = `${a}qkv_proj.weight`;
    names.gateUp = `${p}mlp.gate_up_proj.weight`;
  }
  if (s.attentionBias) names.bias = [`${a}q_proj.bias`, `${a}k_proj.bias`, `${a}v_proj.bias`];
  if (s.qkNorm === true) names.qkNorm = [`${a}q_norm.weight`, `${a}k_norm.weight`];
  if (s.sandwichNorms === true) names.sandwich = [`${p}post_attention_layernorm.weight`, `${p}post_feedforward_layernorm.weight`];
  return names;
}

/** The tensors block() reads for these names. */
function allNames(n: BlockTensorNames): string[] {
  const out = [n.attnNorm, n.ffnNorm, n.o, n.down];
  if (n.qkv !== undefined && n.gateUp !== undefined) out.push(n.qkv, n.gateUp);
  else out.push(n.q, n.k, n.v, n.gate, n.up);
  if (n.bias !== undefined) out.push(...n.bias);
  if (n.qkNorm !== undefined) out.push(...n.qkNorm);
  if (n.sandwich !== undefined) out.push(...n.sandwich);
  return out;
}
