// Writes small Hugging Face-layout Llama checkpoints (random weights, safetensors + config.json) for tests.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHalfArray } from '../../../worker/weights/index.ts';

export interface TinyTensor {
  dtype: 'F32' | 'F16' | 'BF16' | 'I64';
  shape: number[];
  data: Float32Array;
}

/** Serializes tensors into safetensors bytes (header JSON padded to 8 bytes, then the data in order). */
export function safetensorsBytes(tensors: Record<string, TinyTensor>): Uint8Array {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    let bytes: Uint8Array;
    if (t.dtype === 'F32') bytes = new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
    else if (t.dtype === 'F16') bytes = new Uint8Array(toHalfArray(t.data).buffer);
    else if (t.dtype === 'BF16') bytes = new Uint8Array(Uint16Array.from(new Uint32Array(Float32Array.from(t.data).buffer), (u) => u >>> 16).buffer);
    else bytes = new Uint8Array(BigInt64Array.from(t.data, (v) => BigInt(Math.round(v))).buffer);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyConfig {
  hidden: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  maxPos: number;
  tied: boolean;
  dtype: 'F32' | 'F16' | 'BF16';
}

export const tinyDefaults: TinyConfig = { hidden: 64, ffn: 96, layers: 3, heads: 4, kvHeads: 2, vocab: 48, maxPos: 64, tied: false, dtype: 'F32' };

/** The config.json of a tiny Llama. */
export function tinyConfigJson(c: TinyConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: c.hidden, intermediate_size: c.ffn,
    num_hidden_layers: c.layers, num_attention_heads: c.heads, num_key_value_heads: c.kvHeads, vocab_size: c.vocab,
    max_position_embeddings: c.maxPos, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: c.tied,
    bos_token_id: 1, eos_token_id: 2,
  };
}

/** Random tensors of a tiny Llama with Hugging Face names. */
export function tinyTensors(c: TinyConfig, seed = 3): Record<string, TinyTensor> {
  const r = rng(seed);
  const hd = c.hidden / c.heads;
  const mat = (rows: number, cols: number): TinyTensor => {
    const a = Math.sqrt(3 / cols);
    return { dtype: c.dtype, shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * a) };
  };
  const vec = (n: number): TinyTensor => ({ dtype: c.dtype, shape: [n], data: Float32Array.from({ length: n }, () => 0.8 + 0.4 * r()) });
  const t: Record<string, TinyTensor> = { 'model.embed_tokens.weight': mat(c.vocab, c.hidden) };
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    t[`${p}input_layernorm.weight`] = vec(c.hidden);
    t[`${p}self_attn.q_proj.weight`] = mat(c.heads * hd, c.hidden);
    t[`${p}self_attn.k_proj.weight`] = mat(c.kvHeads * hd, c.hidden);
    t[`${p}self_attn.v_proj.weight`] = mat(c.kvHeads * hd, c.hidden);
    t[`${p}self_attn.o_proj.weight`] = mat(c.hidden, c.heads * hd);
    t[`${p}post_attention_layernorm.weight`] = vec(c.hidden);
    t[`${p}mlp.gate_proj.weight`] = mat(c.ffn, c.hidden);
    t[`${p}mlp.up_proj.weight`] = mat(c.ffn, c.hidden);
    t[`${p}mlp.down_proj.weight`] = mat(c.hidden, c.ffn);
  }
  t['model.norm.weight'] = vec(c.hidden);
  if (!c.tied) t['lm_head.weight'] = mat(c.vocab, c.hidden);
  return t;
}

/** Writes a tiny model folder (config.json + model.safetensors) into a new temp dir; returns its path. */
export async function writeTinyModel(c: Partial<TinyConfig> = {}, edit?: { config?: (j: Record<string, unknown>) => void; tensors?: (t: Record<string, TinyTensor>) => void; bytes?: (b: Uint8Array) => Uint8Array }): Promise<string> {
  const cfg = { ...tinyDefaults, ...c };
  const dir = await mkdtemp(join(tmpdir(), 'bouquet-tiny-'));
  const config = tinyConfigJson(cfg);
  edit?.config?.(config);
  const tensors = tinyTensors(cfg);
  edit?.tensors?.(tensors);
  let bytes = safetensorsBytes(tensors);
  if (edit?.bytes !== undefined) bytes = edit.bytes(bytes);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), bytes);
  return dir;
}
