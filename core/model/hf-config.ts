// Hugging Face config.json → ModelShape for every supported family; a field that changes the math and is not implemented is an error naming it.
import { ModelShapeError, validateShape, type BlockAttention, type ModelShape, type RopeScaling } from './shape.ts';

type Config = Record<string, unknown>;

/** model_type values shapeFromHfConfig reads (SmolLM and SmolLM2 ship as `llama`). */
export const supportedFamilies = ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3_text', 'gemma3', 'smollm', 'smollm2'] as const;

/**
 * transformers' Gemma3TextConfig defaults that the text_config of a multimodal Gemma 3 checkpoint
 * (4B, 12B, 27B) leaves out; everything else must be given.
 */
const gemma3TextDefaults = { vocab_size: 262_208, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256 };

/** The text part of a multimodal Gemma 3 config (`gemma3`, Gemma3ForConditionalGeneration): its text_config over the defaults. */
function gemma3TextConfig(cfg: Config): Config {
  const tc = cfg.text_config;
  if (typeof tc !== 'object' || tc === null || Array.isArray(tc)) refuse('text_config', tc, 'must be an object for model_type gemma3');
  const text: Config = { ...gemma3TextDefaults, ...(tc as Config) };
  if (text.model_type !== undefined && text.model_type !== 'gemma3_text') refuse('text_config.model_type', text.model_type, 'is not supported (gemma3_text only)');
  // Token ids sit at the top level of the wrapper.
  for (const k of ['bos_token_id', 'eos_token_id']) if (text[k] === undefined && cfg[k] !== undefined) text[k] = cfg[k];
  return { ...text, model_type: 'gemma3_text' };
}

function num(cfg: Config, key: string, fallback?: number, where = 'config.json'): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw new ModelShapeError(`${where}: field '${key}' must be a number (got ${JSON.stringify(v)})`);
}

function numbers(cfg: Config, key: string, where: string): number[] {
  const v = cfg[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) {
    throw new ModelShapeError(`${where}: field '${key}' must be an array of positive numbers`);
  }
  return v as number[];
}

/** Absent, null or false. */
function unset(v: unknown): boolean {
  return v === undefined || v === null || v === false;
}

function refuse(field: string, value: unknown, why = 'is not supported'): never {
  throw new ModelShapeError(`config.json: ${field} ${JSON.stringify(value)} ${why}`);
}

/** Reads `rope_scaling` (its `rope_type`, or the older `type`); null, absent or `default` means none. */
function ropeScalingOf(cfg: Config, headDim: number, rs: unknown = cfg.rope_scaling, field = 'rope_scaling'): RopeScaling | undefined {
  if (unset(rs)) return undefined;
  if (typeof rs !== 'object' || Array.isArray(rs)) refuse(field, rs, 'must be an object or null');
  const r = rs as Config;
  const kind = r.rope_type ?? r.type;
  const where = `config.json ${field}`;
  switch (kind) {
    case 'default':
      return undefined;
    case 'linear':
      return { kind: 'linear', factor: num(r, 'factor', undefined, where) };
    case 'llama3':
      return {
        kind: 'llama3',
        factor: num(r, 'factor', undefined, where),
        lowFreqFactor: num(r, 'low_freq_factor', undefined, where),
        highFreqFactor: num(r, 'high_freq_factor', undefined, where),
        originalMaxPositions: num(r, 'original_max_position_embeddings', undefined, where),
      };
    case 'longrope': {
      // Phi-3 keeps the pretraining context at the top level; the default attention factor grows with the
      // extension ratio max/original (Hugging Face's _compute_longrope_parameters).
      const original = num(cfg, 'original_max_position_embeddings', num(r, 'original_max_position_embeddings', num(cfg, 'max_position_embeddings')));
      const ratio = num(cfg, 'max_position_embeddings') / original;
      const given = r.attention_factor;
      const attentionFactor = typeof given === 'number' ? given : ratio <= 1 ? 1 : Math.sqrt(1 + Math.log(ratio) / Math.log(original));
      const shortFactor = numbers(r, 'short_factor', where);
      const longFactor = numbers(r, 'long_factor', where);
      if (shortFactor.length !== headDim / 2 || longFactor.length !== headDim / 2) {
        throw new ModelShapeError(`${where}: short_factor and long_factor need head_dim/2 = ${headDim / 2} values each`);
      }
      return { kind: 'longrope', shortFactor, longFactor, originalMaxPositions: original, attentionFactor };
    }
    default:
      return refuse(`${field}.rope_type`, kind);
  }
}

/** Rotary of one kind of block: its base theta and scaling. */
interface Rotary {
  theta: number;
  scaling: RopeScaling | undefined;
}

/**
 * Rotary settings from `rope_theta` + `rope_scaling`, or from transformers v5's `rope_parameters` (flat,
 * or per layer kind `full_attention`/`sliding_attention` for Gemma 3). `local` is the sliding blocks'
 * rotary where it differs (Gemma 3), else undefined.
 */
function rotaryOf(cfg: Config, headDim: number, family: string): { global: Rotary; local?: Rotary } {
  const rp = cfg.rope_parameters;
  const gemma3 = family === 'gemma3_text';
  if (unset(rp)) {
    const global = { theta: num(cfg, 'rope_theta', gemma3 ? 1_000_000 : 10000), scaling: ropeScalingOf(cfg, headDim) };
    return gemma3 ? { global, local: { theta: num(cfg, 'rope_local_base_freq', 10000), scaling: undefined } } : { global };
  }
  if (typeof rp !== 'object' || Array.isArray(rp)) refuse('rope_parameters', rp, 'must be an object');
  const params = rp as Config;
  const one = (p: unknown, field: string): Rotary => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) refuse(field, p, 'must be an object');
    return { theta: num(p as Config, 'rope_theta', undefined, `config.json ${field}`), scaling: ropeScalingOf(cfg, headDim, p, field) };
  };
  if ('full_attention' in params || 'sliding_attention' in params) {
    const global = one(params.full_attention, 'rope_parameters.full_attention');
    if (!gemma3) return { global };
    const local = one(params.sliding_attention, 'rope_parameters.sliding_attention');
    if (local.scaling !== undefined) refuse('rope_parameters.sliding_attention.rope_type', params.sliding_attention, 'is not supported (local blocks use plain rotary)');
    return { global, local };
  }
  const global = one(params, 'rope_parameters');
  return gemma3 ? { global, local: { theta: num(cfg, 'rope_local_base_freq', 10000), scaling: undefined } } : { global };
}

/** Per-block attention from `layer_types` when the config lists it, else from the family's pattern. */
function layerTypesOf(cfg: Config, numBlocks: number, pattern: (i: number) => BlockAttention): BlockAttention[] {
  const lt = cfg.layer_types;
  if (lt === undefined || lt === null) return Array.from({ length: numBlocks }, (_, i) => pattern(i));
  if (!Array.isArray(lt) || lt.length !== numBlocks) refuse('layer_types', lt, `must list ${numBlocks} layers`);
  return lt.map((t: unknown) => {
    if (t === 'sliding_attention') return 'sliding';
    if (t === 'full_attention') return 'full';
    return refuse('layer_types entry', t);
  });
}

/**
 * Reads a Hugging Face `config.json` of a supported family (see supportedFamilies): Llama 2/3/3.1/3.2,
 * SmolLM, Mistral, Qwen2/2.5, Qwen3, Phi-3/3.5, Gemma 2 and Gemma 3 text. Throws ModelShapeError
 * (code 'bad-model-config') naming the field when the config is unusable or asks for math not implemented.
 */
export function shapeFromHfConfig(config: unknown): ModelShape {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ModelShapeError('config.json: expected a JSON object');
  }
  const top = config as Config;
  const declared = typeof top.model_type === 'string' ? top.model_type : '';
  if (!(supportedFamilies as readonly string[]).includes(declared)) {
    throw new ModelShapeError(`config.json: model_type '${declared}' is not supported (supported: ${supportedFamilies.join(', ')})`);
  }
  if (declared === 'gemma3') {
    // The shape keeps `gemma3` as its family: the loader finds the decoder's tensors inside the wrapper.
    return { ...shapeFromHfConfig(gemma3TextConfig(top)), family: 'gemma3' };
  }
  const cfg = top;
  const family = declared;
  const gemma = family === 'gemma2' || family === 'gemma3_text';
  const hiddenSize = num(cfg, 'hidden_size');
  const numHeads = num(cfg, 'num_attention_heads');
  const numKvHeads = num(cfg, 'num_key_value_heads', numHeads);
  const headDim = num(cfg, 'head_dim', hiddenSize / numHeads);
  const numBlocks = num(cfg, 'num_hidden_layers');
  const rotary = rotaryOf(cfg, headDim, family);
  const shape: ModelShape = {
    family,
    numBlocks,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    ffnSize: num(cfg, 'intermediate_size'),
    vocabSize: num(cfg, 'vocab_size'),
    maxSeqLen: num(cfg, 'max_position_embeddings', 2048),
    rmsNormEps: num(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta: rotary.global.theta,
    ropeStyle: 'rotate-half',
    // Gemma ties the LM head to the embeddings unless told otherwise; the others do not.
    tiedEmbeddings: cfg.tie_word_embeddings === true || (gemma && cfg.tie_word_embeddings === undefined),
    attentionBias: family === 'qwen2',
  };
  if (cfg.attention_bias === true && family !== 'qwen2') refuse('attention_bias', true, `is not supported for ${family} (it adds an o_proj bias)`);
  if (cfg.mlp_bias === true) refuse('mlp_bias', true);
  const prf = cfg.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) refuse('partial_rotary_factor', prf, 'is not supported (only 1: rotary over the whole head)');
  if (cfg.use_bidirectional_attention === true) refuse('use_bidirectional_attention', true);
  const act = gemma ? (cfg.hidden_activation ?? cfg.hidden_act ?? 'gelu_pytorch_tanh') : (cfg.hidden_act ?? 'silu');
  if (gemma && act !== 'gelu_pytorch_tanh' && act !== 'gelu_tanh') refuse('hidden_activation', act, 'is not supported (gelu_pytorch_tanh only)');
  if (!gemma && act !== 'silu') refuse('hidden_act', act, 'is not supported (silu only)');
  const ropeScaling = rotary.global.scaling;
  if (ropeScaling !== undefined) shape.ropeScaling = ropeScaling;
  for (const capField of ['attn_logit_softcapping', 'final_logit_softcapping']) {
    if (!gemma && !unset(cfg[capField])) refuse(capField, cfg[capField]);
  }
  const lt = cfg.layer_types;
  if (!gemma && Array.isArray(lt) && lt.some((t) => t !== 'full_attention')) refuse('layer_types', lt, `is not supported for ${family} (only full_attention)`);
  switch (family) {
    case 'llama':
    case 'smollm':
    case 'smollm2':
      break;
    case 'mistral':
    case 'phi3':
      // Every block slides when a window is given (Mistral 7B v0.1, Phi-3-mini-4k); transformers' Mistral
      // config defaults to 4096 when the key is absent (null means none), Phi-3's to none.
      if (family === 'mistral' && cfg.sliding_window === undefined) shape.slidingWindow = 4096;
      else if (!unset(cfg.sliding_window)) shape.slidingWindow = num(cfg, 'sliding_window');
      break;
    case 'qwen2':
    case 'qwen3':
      if (cfg.use_sliding_window === true) refuse('use_sliding_window', true);
      if (family === 'qwen3') shape.qkNorm = true;
      break;
    case 'gemma2':
    case 'gemma3_text': {
      shape.sandwichNorms = true;
      shape.mlpActivation = 'gelu-tanh';
      shape.embedScale = Math.sqrt(hiddenSize);
      shape.attentionScale = 1 / Math.sqrt(num(cfg, 'query_pre_attn_scalar', 256));
      if (!unset(cfg.attn_logit_softcapping)) shape.attentionSoftcap = num(cfg, 'attn_logit_softcapping');
      if (!unset(cfg.final_logit_softcapping)) shape.logitSoftcap = num(cfg, 'final_logit_softcapping');
      shape.slidingWindow = num(cfg, 'sliding_window', 4096);
      if (family === 'gemma2') {
        if (ropeScaling !== undefined) refuse('rope_scaling', cfg.rope_scaling, 'is not supported for gemma2');
        // Even blocks slide, odd blocks see everything.
        shape.blockAttention = layerTypesOf(cfg, numBlocks, (i) => (i % 2 === 0 ? 'sliding' : 'full'));
      } else {
        shape.qkNorm = true;
        const every = num(cfg, 'sliding_window_pattern', 6);
        // Five local blocks, then one global: block i is global when (i + 1) is a multiple of the pattern.
        shape.blockAttention = layerTypesOf(cfg, numBlocks, (i) => ((i + 1) % every === 0 ? 'full' : 'sliding'));
        shape.localRopeTheta = rotary.local?.theta ?? 10000;
      }
      break;
    }
    default:
      throw new ModelShapeError(`config.json: model_type '${family}' is not supported`);
  }
  if (typeof cfg.bos_token_id === 'number') shape.bosTokenId = cfg.bos_token_id;
  const eos = cfg.eos_token_id;
  if (typeof eos === 'number' || (Array.isArray(eos) && eos.every((e) => typeof e === 'number'))) {
    shape.eosTokenId = eos;
  }
  validateShape(shape);
  return shape;
}
