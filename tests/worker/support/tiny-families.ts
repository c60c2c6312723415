// Tiny random models of each family in Hugging Face layout (config.json, model.safetensors, tokenizer.json), written by the tests.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng, safetensorsBytes, type TinyTensor } from './tiny-model.ts';

/** A tiny model: its config.json, its tensors by Hugging Face name, and where it was written. */
export interface TinyFamilyModel {
  config: Record<string, unknown>;
  tensors: Record<string, TinyTensor>;
}

const hidden = 64;
const ffn = 96;
const heads = 4;
const kvHeads = 2;
/** Tokens of the tokenizer.json below: 2 specials, the byte-level space and the 94 printable ASCII characters, then pairs. */
export const tinyVocab = 128;

const base = {
  hidden_size: hidden, intermediate_size: ffn, num_attention_heads: heads, num_key_value_heads: kvHeads,
  vocab_size: tinyVocab, max_position_embeddings: 64, rms_norm_eps: 1e-5, bos_token_id: 0, eos_token_id: 1,
};

/** config.json of each tiny model, named after the released model it imitates. */
export const tinyFamilyConfigs: Record<string, Record<string, unknown>> = {
  'llama-2': { ...base, model_type: 'llama', num_hidden_layers: 3, rope_theta: 10000, tie_word_embeddings: false },
  // Llama 3.2 1B: llama3 rope scaling (factor 32 there), theta 500000, tied; the pretraining context is shrunk
  // to 64 so that high, medium and low frequencies all occur with head 16.
  'llama-3.2': {
    ...base, model_type: 'llama', num_hidden_layers: 3, rope_theta: 500000, tie_word_embeddings: true,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
  },
  'llama-linear': { ...base, model_type: 'llama', num_hidden_layers: 3, rope_theta: 10000, rope_scaling: { type: 'linear', factor: 4 } },
  smollm2: { ...base, model_type: 'llama', num_hidden_layers: 3, rope_theta: 100000, tie_word_embeddings: true, num_key_value_heads: 4 },
  mistral: { ...base, model_type: 'mistral', num_hidden_layers: 3, rope_theta: 1000000, sliding_window: 5 },
  'qwen2.5': { ...base, model_type: 'qwen2', num_hidden_layers: 3, rope_theta: 1000000, tie_word_embeddings: true, use_sliding_window: false, sliding_window: 32768 },
  // Qwen3: head_dim 32 with 4 heads (q is wider than the residual stream, as in Qwen3-0.6B).
  qwen3: { ...base, model_type: 'qwen3', num_hidden_layers: 3, head_dim: 32, rope_theta: 1000000, tie_word_embeddings: true },
  'phi-3-mini-4k': { ...base, model_type: 'phi3', num_hidden_layers: 3, rope_theta: 10000, sliding_window: 6, num_key_value_heads: 4 },
  // Phi-3.5-mini: longrope with short/long factors; pretraining context 8 so a test crosses it.
  'phi-3.5-mini': {
    ...base, model_type: 'phi3', num_hidden_layers: 3, rope_theta: 10000, num_key_value_heads: 4, original_max_position_embeddings: 8,
    rope_scaling: { type: 'longrope', short_factor: [1, 1.1, 1.3, 1.6, 2, 2.5, 3, 3.5], long_factor: [1, 1.5, 2.5, 4, 6, 9, 13, 18] },
  },
  'gemma-2': {
    ...base, model_type: 'gemma2', num_hidden_layers: 4, head_dim: 16, rope_theta: 10000, rms_norm_eps: 1e-6,
    hidden_activation: 'gelu_pytorch_tanh', query_pre_attn_scalar: 24, sliding_window: 4,
    attn_logit_softcapping: 2.0, final_logit_softcapping: 3.0,
  },
  'gemma-3': {
    ...base, model_type: 'gemma3_text', num_hidden_layers: 6, head_dim: 16, rope_theta: 1000000, rope_local_base_freq: 10000,
    rms_norm_eps: 1e-6, hidden_activation: 'gelu_pytorch_tanh', query_pre_attn_scalar: 16, sliding_window: 4, sliding_window_pattern: 6,
    rope_scaling: { rope_type: 'linear', factor: 8 }, final_logit_softcapping: null, attn_logit_softcapping: null,
  },
};

/** Random tensors with the family's Hugging Face names and layout (fused projections for phi3, sandwich norms for Gemma). */
export function tinyFamilyTensors(config: Record<string, unknown>, seed = 7): Record<string, TinyTensor> {
  const r = rng(seed);
  const num = (k: string): number => config[k] as number;
  const d = num('hidden_size');
  const H = num('num_attention_heads');
  const kvH = num('num_key_value_heads');
  const hd = typeof config.head_dim === 'number' ? config.head_dim : d / H;
  const f = num('intermediate_size');
  const type = config.model_type;
  const gemma = type === 'gemma2' || type === 'gemma3_text';
  const mat = (rows: number, cols: number, gain = 1): TinyTensor => {
    const a = gain * Math.sqrt(3 / cols);
    return { dtype: 'F32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * a) };
  };
  // Gemma stores norm weights as offsets from 1.
  const vec = (len: number, bias = 0): TinyTensor => ({ dtype: 'F32', shape: [len], data: Float32Array.from({ length: len }, () => (gemma ? -0.2 : 0.8) + 0.4 * r() + bias) });
  const t: Record<string, TinyTensor> = { 'model.embed_tokens.weight': mat(num('vocab_size'), d, gemma ? 1 / Math.sqrt(d) : 1) };
  for (let l = 0; l < num('num_hidden_layers'); l++) {
    const p = `model.layers.${l}.`;
    t[`${p}input_layernorm.weight`] = vec(d);
    if (type === 'phi3') {
      t[`${p}self_attn.qkv_proj.weight`] = mat((H + 2 * kvH) * hd, d);
    } else {
      t[`${p}self_attn.q_proj.weight`] = mat(H * hd, d);
      t[`${p}self_attn.k_proj.weight`] = mat(kvH * hd, d);
      t[`${p}self_attn.v_proj.weight`] = mat(kvH * hd, d);
    }
    if (type === 'qwen2') {
      t[`${p}self_attn.q_proj.bias`] = { dtype: 'F32', shape: [H * hd], data: Float32Array.from({ length: H * hd }, () => r() - 0.5) };
      t[`${p}self_attn.k_proj.bias`] = { dtype: 'F32', shape: [kvH * hd], data: Float32Array.from({ length: kvH * hd }, () => r() - 0.5) };
      t[`${p}self_attn.v_proj.bias`] = { dtype: 'F32', shape: [kvH * hd], data: Float32Array.from({ length: kvH * hd }, () => r() - 0.5) };
    }
    if (type === 'qwen3' || type === 'gemma3_text') {
      t[`${p}self_attn.q_norm.weight`] = vec(hd);
      t[`${p}self_attn.k_norm.weight`] = vec(hd);
    }
    t[`${p}self_attn.o_proj.weight`] = mat(d, H * hd);
    t[`${p}post_attention_layernorm.weight`] = vec(d);
    if (gemma) {
      t[`${p}pre_feedforward_layernorm.weight`] = vec(d);
      t[`${p}post_feedforward_layernorm.weight`] = vec(d);
    }
    if (type === 'phi3') {
      t[`${p}mlp.gate_up_proj.weight`] = mat(2 * f, d);
    } else {
      t[`${p}mlp.gate_proj.weight`] = mat(f, d);
      t[`${p}mlp.up_proj.weight`] = mat(f, d);
    }
    t[`${p}mlp.down_proj.weight`] = mat(d, f);
  }
  t['model.norm.weight'] = vec(d);
  const tied = config.tie_word_embeddings === true || (gemma && config.tie_word_embeddings === undefined);
  if (!tied) t['lm_head.weight'] = mat(num('vocab_size'), d);
  return t;
}

/**
 * A byte-level BPE tokenizer.json of exactly tinyVocab tokens: `<s>`=0, `</s>`=1, Ġ (space), the printable
 * ASCII characters, then letter pairs (decodable; made only by merges of the first pairs).
 */
export function tinyTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = { '<s>': 0, '</s>': 1, 'Ġ': 2 };
  for (let c = 33; c <= 126; c++) vocab[String.fromCharCode(c)] = Object.keys(vocab).length;
  const letters = 'etaoinshrdlu';
  const merges: string[] = [];
  for (const a of letters) {
    for (const b of letters) {
      if (Object.keys(vocab).length >= tinyVocab) break;
      vocab[a + b] = Object.keys(vocab).length;
      merges.push(`${a} ${b}`);
    }
  }
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

/** Writes a tiny model of family `name` (see tinyFamilyConfigs) into a new temp folder. */
export async function writeTinyFamily(name: string, edit?: { config?: (c: Record<string, unknown>) => void }): Promise<TinyFamilyModel & { dir: string }> {
  const preset = tinyFamilyConfigs[name];
  if (preset === undefined) throw new Error(`no tiny family ${name}`);
  const config = structuredClone(preset);
  edit?.config?.(config);
  const tensors = tinyFamilyTensors(config);
  const dir = await mkdtemp(join(tmpdir(), `bouquet-${name}-`));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), safetensorsBytes(tensors));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  return { dir, config, tensors };
}

/**
 * Writes the tiny Gemma 3 as a multimodal checkpoint (model_type gemma3, Gemma3ForConditionalGeneration):
 * its config under text_config (token ids at the top), the decoder's tensors under `decoderPrefix`, and a
 * stand-in vision tower. Returns the plain text model for the reference.
 */
export async function writeTinyGemma3Multimodal(decoderPrefix: 'language_model.model.' | 'model.language_model.'): Promise<TinyFamilyModel & { dir: string }> {
  const text = structuredClone(tinyFamilyConfigs['gemma-3'] ?? {});
  const tensors = tinyFamilyTensors(text);
  const { bos_token_id: bos, eos_token_id: eos, ...given } = text;
  const config = {
    architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', bos_token_id: bos, eos_token_id: eos,
    text_config: given, vision_config: { model_type: 'siglip_vision_model', hidden_size: 8 },
  };
  const wrapped: Record<string, TinyTensor> = {};
  for (const [name, t] of Object.entries(tensors)) wrapped[decoderPrefix + name.replace(/^model\./, '')] = t;
  wrapped['vision_tower.vision_model.embeddings.patch_embedding.weight'] = { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) };
  const dir = await mkdtemp(join(tmpdir(), 'bouquet-gemma3mm-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), safetensorsBytes(wrapped));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  return { dir, config: text, tensors };
}
