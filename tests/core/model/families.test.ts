// config.json of released models → shapes: family fields, layer patterns, rotary scaling, and published parameter counts.
import { describe, expect, it } from 'vitest';
import { blockAttentionOf, blockParams, ropeFrequencies, shapeFromHfConfig, type ModelShape } from '../../../core/model/index.ts';

/** Parameters of the whole model: blocks, embeddings, final norm, and the LM head unless tied. */
function totalParams(s: ModelShape): number {
  return s.numBlocks * blockParams(s) + s.vocabSize * s.hiddenSize * (s.tiedEmbeddings ? 1 : 2) + s.hiddenSize;
}

const llama32_1b = {
  model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8,
  head_dim: 64, vocab_size: 128256, max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_theta: 500000.0, hidden_act: 'silu',
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true, attention_bias: false, mlp_bias: false, pretraining_tp: 1, bos_token_id: 128000, eos_token_id: 128001,
};
const qwen3_06b = {
  model_type: 'qwen3', hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8,
  head_dim: 128, vocab_size: 151936, max_position_embeddings: 40960, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_scaling: null,
  tie_word_embeddings: true, attention_bias: false, use_sliding_window: false, sliding_window: null, hidden_act: 'silu',
};
const gemma2_2b = {
  model_type: 'gemma2', hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4,
  head_dim: 256, vocab_size: 256000, max_position_embeddings: 8192, rms_norm_eps: 1e-6, rope_theta: 10000.0, query_pre_attn_scalar: 256,
  sliding_window: 4096, attn_logit_softcapping: 50.0, final_logit_softcapping: 30.0, hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh',
};
const gemma3_1b = {
  model_type: 'gemma3_text', hidden_size: 1152, intermediate_size: 6912, num_hidden_layers: 26, num_attention_heads: 4, num_key_value_heads: 1,
  head_dim: 256, vocab_size: 262144, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_local_base_freq: 10000,
  query_pre_attn_scalar: 256, sliding_window: 512, sliding_window_pattern: 6, rope_scaling: null, final_logit_softcapping: null,
  attn_logit_softcapping: null, hidden_activation: 'gelu_pytorch_tanh',
};
const phi35_mini = {
  model_type: 'phi3', hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32,
  vocab_size: 32064, max_position_embeddings: 131072, original_max_position_embeddings: 4096, rope_theta: 10000.0, sliding_window: 262144,
  rms_norm_eps: 1e-5, hidden_act: 'silu', tie_word_embeddings: false,
  rope_scaling: { type: 'longrope', short_factor: Array.from({ length: 48 }, (_, i) => 1 + i / 48), long_factor: Array.from({ length: 48 }, (_, i) => 1 + i) },
};

describe('released configs', () => {
  it('Llama 3.2 1B: llama3 rotary scaling read, 1,235,814,400 parameters', () => {
    const s = shapeFromHfConfig(llama32_1b);
    expect(s.ropeScaling).toEqual({ kind: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(totalParams(s)).toBe(1_235_814_400);
    const { invFreq } = ropeFrequencies(s, 'full', 1);
    // High frequencies (wavelength < 8192/4 positions) are kept, low ones (> 8192) divided by 32, the middle blended.
    expect(invFreq[0]).toBe(1);
    expect(invFreq[31]).toBeCloseTo(500000 ** (-62 / 64) / 32, 15);
    const mid = Array.from(invFreq).findIndex((f, i) => f !== 500000 ** ((-2 * i) / 64) && f !== 500000 ** ((-2 * i) / 64) / 32);
    expect(mid).toBeGreaterThan(0);
  });

  it('Qwen3 0.6B: per-head q/k norms, head 128 wider than hidden/heads, 596,049,920 parameters', () => {
    const s = shapeFromHfConfig(qwen3_06b);
    expect([s.qkNorm, s.headDim, s.attentionBias, s.slidingWindow]).toEqual([true, 128, false, undefined]);
    expect(totalParams(s)).toBe(596_049_920);
  });

  it('Gemma 2 2B: even blocks slide, soft-capping, √d embeddings, tied head, 2,614,341,888 parameters', () => {
    const s = shapeFromHfConfig(gemma2_2b);
    expect(s.blockAttention?.slice(0, 4)).toEqual(['sliding', 'full', 'sliding', 'full']);
    expect([s.attentionSoftcap, s.logitSoftcap, s.slidingWindow, s.tiedEmbeddings, s.mlpActivation]).toEqual([50, 30, 4096, true, 'gelu-tanh']);
    expect(s.embedScale).toBeCloseTo(48, 12);
    expect(s.attentionScale).toBe(1 / 16);
    expect(totalParams(s)).toBe(2_614_341_888);
  });

  it('Gemma 3 1B: five local blocks to one global, local rotary base 10000, 999,885,952 parameters', () => {
    const s = shapeFromHfConfig(gemma3_1b);
    const global = Array.from({ length: s.numBlocks }, (_, b) => b).filter((b) => blockAttentionOf(s, b) === 'full');
    expect(global).toEqual([5, 11, 17, 23]);
    expect([s.localRopeTheta, s.ropeTheta, s.qkNorm, s.logitSoftcap]).toEqual([10000, 1000000, true, undefined]);
    expect(ropeFrequencies(s, 'sliding', 1).invFreq[1]).toBeCloseTo(10000 ** (-2 / 256), 15);
    expect(ropeFrequencies(s, 'full', 1).invFreq[1]).toBeCloseTo(1000000 ** (-2 / 256), 15);
    expect(totalParams(s)).toBe(999_885_952);
  });

  it('Gemma 3 layer_types, when given, decide which blocks slide', () => {
    const s = shapeFromHfConfig({ ...gemma3_1b, num_hidden_layers: 3, layer_types: ['full_attention', 'sliding_attention', 'full_attention'] });
    expect(s.blockAttention).toEqual(['full', 'sliding', 'full']);
  });

  it('Phi-3.5 mini: longrope switches to long factors past 4096 positions, attention factor √(1 + ln 32 / ln 4096)', () => {
    const s = shapeFromHfConfig(phi35_mini);
    expect(s.ropeScaling?.kind).toBe('longrope');
    const short = ropeFrequencies(s, 'full', 4096);
    const long = ropeFrequencies(s, 'full', 4097);
    expect(short.cosSinFactor).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 12);
    expect(short.invFreq[47]).toBeCloseTo(10000 ** (-94 / 96) / (1 + 47 / 48), 15);
    expect(long.invFreq[47]).toBeCloseTo(10000 ** (-94 / 96) / 48, 15);
    // Every block slides over 262144 tokens (Phi-3's sliding_window), wider than any session here.
    expect([s.slidingWindow, blockAttentionOf(s, 0)]).toEqual([262144, 'sliding']);
  });

  it('Mistral 7B v0.1 slides every block over 4096 tokens; Qwen2.5 ignores sliding_window while use_sliding_window is false', () => {
    const m = shapeFromHfConfig({ model_type: 'mistral', hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 32000, sliding_window: 4096 });
    expect([m.slidingWindow, blockAttentionOf(m, 31)]).toEqual([4096, 'sliding']);
    const q = shapeFromHfConfig({ model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, sliding_window: 32768, use_sliding_window: false, tie_word_embeddings: true });
    expect([q.slidingWindow, q.attentionBias, blockAttentionOf(q, 0)]).toEqual([undefined, true, 'full']);
    expect(totalParams(q)).toBe(494_032_768);
  });

  it('transformers v5 rope_parameters (flat, or per layer kind for Gemma 3) give the same shapes as rope_theta + rope_scaling', () => {
    const { rope_scaling: scaling, rope_theta: theta, ...rest } = llama32_1b;
    expect(shapeFromHfConfig({ ...rest, rope_parameters: { ...scaling, rope_theta: theta } })).toEqual(shapeFromHfConfig(llama32_1b));
    const g3: Record<string, unknown> = { ...gemma3_1b };
    for (const k of ['rope_theta', 'rope_local_base_freq', 'rope_scaling']) delete g3[k];
    const v5 = shapeFromHfConfig({ ...g3, rope_parameters: { full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } } });
    expect(v5).toEqual({ ...shapeFromHfConfig(gemma3_1b), ropeScaling: { kind: 'linear', factor: 8 } });
    expect(() => shapeFromHfConfig({ ...g3, rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e6 }, sliding_attention: { rope_type: 'yarn', rope_theta: 1e4, factor: 2 } } })).toThrow(expect.objectContaining({ code: 'bad-model-config' }));
  });

  it('Mistral without a sliding_window key gets transformers\' default 4096; null means none', () => {
    const base = { model_type: 'mistral', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 32 };
    expect(shapeFromHfConfig(base).slidingWindow).toBe(4096);
    expect(shapeFromHfConfig({ ...base, sliding_window: null }).slidingWindow).toBeUndefined();
  });

  it('layer_types with sliding layers on a family that never slides per layer (Qwen3) is refused', () => {
    expect(() => shapeFromHfConfig({ ...qwen3_06b, layer_types: Array.from({ length: 28 }, (_, i) => (i < 20 ? 'full_attention' : 'sliding_attention')) })).toThrow(expect.objectContaining({ code: 'bad-model-config' }));
    expect(shapeFromHfConfig({ ...qwen3_06b, layer_types: Array.from({ length: 28 }, () => 'full_attention') }).slidingWindow).toBeUndefined();
  });

  it('Gemma 3 4B (multimodal wrapper): text_config over transformers\' Gemma3TextConfig defaults', () => {
    const s = shapeFromHfConfig({
      architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', eos_token_id: [1, 106],
      text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34, rope_scaling: { factor: 8.0, rope_type: 'linear' }, sliding_window: 1024 },
      vision_config: { model_type: 'siglip_vision_model' },
    });
    expect(s).toMatchObject({ family: 'gemma3', numHeads: 8, numKvHeads: 4, headDim: 256, vocabSize: 262208, slidingWindow: 1024, localRopeTheta: 10000, ropeTheta: 1000000, eosTokenId: [1, 106] });
    expect(s.ropeScaling).toEqual({ kind: 'linear', factor: 8 });
    expect(s.attentionScale).toBe(1 / 16);
    // Keras-hub's gemma3_4b_text counts 3,880,099,328 parameters with the 262144 text tokens (HF adds 64 image tokens).
    expect(totalParams({ ...s, vocabSize: 262144 })).toBe(3_880_099_328);
    expect(() => shapeFromHfConfig({ model_type: 'gemma3' })).toThrow(expect.objectContaining({ code: 'bad-model-config' }));
  });
});
