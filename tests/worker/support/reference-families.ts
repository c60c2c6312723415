// An independent float64 forward pass per model family, written after transformers' modelling code: reads config.json and the HF tensors itself.
import type { TinyTensor } from './tiny-model.ts';

type Config = Record<string, unknown>;
type Vec = Float64Array;

/** A decoding session of the reference: feeds tokens step by step (with a KV cache), returns each new token's logits. */
export interface ReferenceSession {
  step(ids: number[]): Vec[];
}

function n(cfg: Config, key: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`reference: config lacks ${key}`);
}

class Tensors {
  constructor(private readonly t: Record<string, TinyTensor>) {}
  get(name: string): Float32Array {
    const x = this.t[name];
    if (x === undefined) throw new Error(`reference: no tensor ${name}`);
    return x.data;
  }
  has(name: string): boolean {
    return this.t[name] !== undefined;
  }
}

/** y = W x (+ b) with W [rows, cols] row-major, starting at row `row0` of W. */
function linear(w: Float32Array, x: Vec, rows: number, b?: Float32Array, row0 = 0): Vec {
  const cols = x.length;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = b?.[r] ?? 0;
    const off = (row0 + r) * cols;
    for (let c = 0; c < cols; c++) acc += (w[off + c] ?? 0) * (x[c] ?? 0);
    y[r] = acc;
  }
  return y;
}

/** RMSNorm of x (or of each `width` slice of x) times w, or times (1 + w) for Gemma. */
function rms(x: Vec, w: Float32Array, eps: number, plusOne: boolean, width = x.length): Vec {
  const y = new Float64Array(x.length);
  for (let s = 0; s < x.length; s += width) {
    let ss = 0;
    for (let i = 0; i < width; i++) ss += (x[s + i] ?? 0) ** 2;
    const inv = 1 / Math.sqrt(ss / width + eps);
    for (let i = 0; i < width; i++) y[s + i] = (x[s + i] ?? 0) * inv * ((plusOne ? 1 : 0) + (w[i] ?? 0));
  }
  return y;
}

const silu = (v: number): number => v / (1 + Math.exp(-v));
const geluTanh = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** inv_freq per transformers' modeling_rope_utils (default, linear, llama3, longrope); `stepEnd` = max position + 1 of the forward call. */
function invFreq(cfg: Config, headDim: number, theta: number, scaling: Config | null, stepEnd: number): { f: number[]; attn: number } {
  const base = Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  if (scaling === null) return { f: base, attn: 1 };
  const type = scaling.rope_type ?? scaling.type;
  if (type === 'linear') return { f: base.map((x) => x / n(scaling, 'factor')), attn: 1 };
  if (type === 'llama3') {
    const factor = n(scaling, 'factor');
    const lo = n(scaling, 'low_freq_factor');
    const hi = n(scaling, 'high_freq_factor');
    const old = n(scaling, 'original_max_position_embeddings');
    return {
      f: base.map((x) => {
        const wl = (2 * Math.PI) / x;
        if (wl < old / hi) return x;
        if (wl > old / lo) return x / factor;
        const s = (old / wl - lo) / (hi - lo);
        return (1 - s) * (x / factor) + s * x;
      }),
      attn: 1,
    };
  }
  if (type === 'longrope') {
    const orig = n(cfg, 'original_max_position_embeddings');
    const scale = n(cfg, 'max_position_embeddings') / orig;
    const attn = typeof scaling.attention_factor === 'number' ? scaling.attention_factor : scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(orig));
    const ext = (stepEnd > orig ? scaling.long_factor : scaling.short_factor) as number[];
    return { f: Array.from({ length: headDim / 2 }, (_, i) => 1 / ((ext[i] ?? 1) * theta ** ((2 * i) / headDim))), attn };
  }
  throw new Error(`reference: rope type ${String(type)}`);
}

/** What differs between families, per layer. */
interface LayerSpec {
  /** Attention window in tokens (itself included), or Infinity. */
  window: number;
  theta: number;
  scaling: Config | null;
}

interface Family {
  cfg: Config;
  w: Tensors;
  d: number;
  H: number;
  kvH: number;
  hd: number;
  ffn: number;
  eps: number;
  layers: LayerSpec[];
  embed(id: number): Vec;
  /** Pre-attention hidden → q, k, v (before rotary). */
  qkv(l: number, x: Vec): { q: Vec; k: Vec; v: Vec };
  scale: number;
  attnSoftcap?: number;
  /** Attention output (heads concatenated) + residual → hidden after the whole layer. */
  finish(l: number, x: Vec, attn: Vec): Vec;
  logits(x: Vec): Vec;
}

function common(cfg: Config, w: Tensors): Pick<Family, 'cfg' | 'w' | 'd' | 'H' | 'kvH' | 'hd' | 'ffn' | 'eps'> {
  const d = n(cfg, 'hidden_size');
  const H = n(cfg, 'num_attention_heads');
  return { cfg, w, d, H, kvH: n(cfg, 'num_key_value_heads', H), hd: n(cfg, 'head_dim', d / H), ffn: n(cfg, 'intermediate_size'), eps: n(cfg, 'rms_norm_eps', 1e-6) };
}

function lmHead(w: Tensors, cfg: Config, x: Vec, vocab: number): Vec {
  return linear(w.has('lm_head.weight') ? w.get('lm_head.weight') : w.get('model.embed_tokens.weight'), x, vocab);
}

function embedRow(w: Tensors, id: number, d: number, scale = 1): Vec {
  return Float64Array.from(w.get('model.embed_tokens.weight').subarray(id * d, (id + 1) * d), (v) => v * scale);
}

/** modeling_llama.py (also Mistral with its sliding window, Qwen2 with q/k/v biases, SmolLM). */
function llamaFamily(cfg: Config, w: Tensors): Family {
  const c = common(cfg, w);
  const { d, H, kvH, hd, ffn, eps } = c;
  const scaling = (cfg.rope_scaling ?? null) as Config | null;
  const window = typeof cfg.sliding_window === 'number' && cfg.model_type === 'mistral' ? cfg.sliding_window : Infinity;
  const L = n(cfg, 'num_hidden_layers');
  const bias = cfg.model_type === 'qwen2';
  const p = (l: number): string => `model.layers.${l}.`;
  return {
    ...c,
    layers: Array.from({ length: L }, () => ({ window, theta: n(cfg, 'rope_theta', 10000), scaling })),
    embed: (id) => embedRow(w, id, d),
    qkv: (l, x) => {
      const h = rms(x, w.get(`${p(l)}input_layernorm.weight`), eps, false);
      const b = (t: string): Float32Array | undefined => (bias ? w.get(`${p(l)}self_attn.${t}_proj.bias`) : undefined);
      return {
        q: linear(w.get(`${p(l)}self_attn.q_proj.weight`), h, H * hd, b('q')),
        k: linear(w.get(`${p(l)}self_attn.k_proj.weight`), h, kvH * hd, b('k')),
        v: linear(w.get(`${p(l)}self_attn.v_proj.weight`), h, kvH * hd, b('v')),
      };
    },
    scale: 1 / Math.sqrt(hd),
    finish: (l, x, attn) => {
      const x2 = x.map((v, i) => v + (linear(w.get(`${p(l)}self_attn.o_proj.weight`), attn, d)[i] ?? 0));
      const h = rms(x2, w.get(`${p(l)}post_attention_layernorm.weight`), eps, false);
      const g = linear(w.get(`${p(l)}mlp.gate_proj.weight`), h, ffn);
      const u = linear(w.get(`${p(l)}mlp.up_proj.weight`), h, ffn);
      const down = linear(w.get(`${p(l)}mlp.down_proj.weight`), g.map((gv, i) => silu(gv) * (u[i] ?? 0)), d);
      return x2.map((v, i) => v + (down[i] ?? 0));
    },
    logits: (x) => lmHead(w, cfg, rms(x, w.get('model.norm.weight'), eps, false), n(cfg, 'vocab_size')),
  };
}

/** modeling_qwen3.py: Llama with per-head RMSNorm of q and k before rotary. */
function qwen3Family(cfg: Config, w: Tensors): Family {
  const base = llamaFamily({ ...cfg, model_type: 'qwen3' }, w);
  return {
    ...base,
    qkv: (l, x) => {
      const { q, k, v } = base.qkv(l, x);
      const p = `model.layers.${l}.self_attn.`;
      return { q: rms(q, w.get(`${p}q_norm.weight`), base.eps, false, base.hd), k: rms(k, w.get(`${p}k_norm.weight`), base.eps, false, base.hd), v };
    },
  };
}

/** modeling_phi3.py: fused qkv_proj and gate_up_proj (gate first), longrope, optional sliding window. */
function phi3Family(cfg: Config, w: Tensors): Family {
  const c = common(cfg, w);
  const { d, H, kvH, hd, ffn, eps } = c;
  const scaling = (cfg.rope_scaling ?? null) as Config | null;
  const window = typeof cfg.sliding_window === 'number' ? cfg.sliding_window : Infinity;
  const p = (l: number): string => `model.layers.${l}.`;
  return {
    ...c,
    layers: Array.from({ length: n(cfg, 'num_hidden_layers') }, () => ({ window, theta: n(cfg, 'rope_theta', 10000), scaling })),
    embed: (id) => embedRow(w, id, d),
    qkv: (l, x) => {
      const h = rms(x, w.get(`${p(l)}input_layernorm.weight`), eps, false);
      const fused = w.get(`${p(l)}self_attn.qkv_proj.weight`);
      return { q: linear(fused, h, H * hd, undefined, 0), k: linear(fused, h, kvH * hd, undefined, H * hd), v: linear(fused, h, kvH * hd, undefined, (H + kvH) * hd) };
    },
    scale: 1 / Math.sqrt(hd),
    finish: (l, x, attn) => {
      const o = linear(w.get(`${p(l)}self_attn.o_proj.weight`), attn, d);
      const x2 = x.map((v, i) => v + (o[i] ?? 0));
      const h = rms(x2, w.get(`${p(l)}post_attention_layernorm.weight`), eps, false);
      const gu = w.get(`${p(l)}mlp.gate_up_proj.weight`);
      const g = linear(gu, h, ffn, undefined, 0);
      const u = linear(gu, h, ffn, undefined, ffn);
      const down = linear(w.get(`${p(l)}mlp.down_proj.weight`), u.map((uv, i) => uv * silu(g[i] ?? 0)), d);
      return x2.map((v, i) => v + (down[i] ?? 0));
    },
    logits: (x) => lmHead(w, cfg, rms(x, w.get('model.norm.weight'), eps, false), n(cfg, 'vocab_size')),
  };
}

/** modeling_gemma2.py / modeling_gemma3.py: √d embeddings, (1 + w) norms, sandwich norms, GeGLU, softcaps, local/global layers. */
function gemmaFamily(cfg: Config, w: Tensors, version: 2 | 3): Family {
  const c = common(cfg, w);
  const { d, H, kvH, hd, ffn, eps } = c;
  const L = n(cfg, 'num_hidden_layers');
  const win = n(cfg, 'sliding_window');
  const pattern = n(cfg, 'sliding_window_pattern', 6);
  const sliding = (l: number): boolean => (version === 2 ? l % 2 === 0 : (l + 1) % pattern !== 0);
  const scaling = (cfg.rope_scaling ?? null) as Config | null;
  const layers = Array.from({ length: L }, (_, l): LayerSpec => {
    if (!sliding(l)) return { window: Infinity, theta: n(cfg, 'rope_theta'), scaling };
    return version === 3 ? { window: win, theta: n(cfg, 'rope_local_base_freq'), scaling: null } : { window: win, theta: n(cfg, 'rope_theta'), scaling };
  });
  const p = (l: number): string => `model.layers.${l}.`;
  const norm = (x: Vec, name: string, width?: number): Vec => rms(x, w.get(name), eps, true, width);
  const cap = cfg.final_logit_softcapping;
  const family: Family = {
    ...c,
    layers,
    embed: (id) => embedRow(w, id, d, Math.sqrt(d)),
    qkv: (l, x) => {
      const h = norm(x, `${p(l)}input_layernorm.weight`);
      let q = linear(w.get(`${p(l)}self_attn.q_proj.weight`), h, H * hd);
      let k = linear(w.get(`${p(l)}self_attn.k_proj.weight`), h, kvH * hd);
      const v = linear(w.get(`${p(l)}self_attn.v_proj.weight`), h, kvH * hd);
      if (version === 3) {
        q = norm(q, `${p(l)}self_attn.q_norm.weight`, hd);
        k = norm(k, `${p(l)}self_attn.k_norm.weight`, hd);
      }
      return { q, k, v };
    },
    scale: n(cfg, 'query_pre_attn_scalar') ** -0.5,
    finish: (l, x, attn) => {
      const o = norm(linear(w.get(`${p(l)}self_attn.o_proj.weight`), attn, d), `${p(l)}post_attention_layernorm.weight`);
      const x2 = x.map((v, i) => v + (o[i] ?? 0));
      const h = norm(x2, `${p(l)}pre_feedforward_layernorm.weight`);
      const g = linear(w.get(`${p(l)}mlp.gate_proj.weight`), h, ffn);
      const u = linear(w.get(`${p(l)}mlp.up_proj.weight`), h, ffn);
      const down = norm(linear(w.get(`${p(l)}mlp.down_proj.weight`), g.map((gv, i) => geluTanh(gv) * (u[i] ?? 0)), d), `${p(l)}post_feedforward_layernorm.weight`);
      return x2.map((v, i) => v + (down[i] ?? 0));
    },
    logits: (x) => {
      const y = lmHead(w, cfg, norm(x, 'model.norm.weight'), n(cfg, 'vocab_size'));
      return typeof cap === 'number' ? y.map((v) => Math.tanh(v / cap) * cap) : y;
    },
  };
  if (typeof cfg.attn_logit_softcapping === 'number') family.attnSoftcap = cfg.attn_logit_softcapping;
  return family;
}

function familyOf(cfg: Config, tensors: Record<string, TinyTensor>): Family {
  const w = new Tensors(tensors);
  switch (cfg.model_type) {
    case 'llama':
    case 'mistral':
    case 'qwen2':
      return llamaFamily(cfg, w);
    case 'qwen3':
      return qwen3Family(cfg, w);
    case 'phi3':
      return phi3Family(cfg, w);
    case 'gemma2':
      return gemmaFamily(cfg, w, 2);
    case 'gemma3_text':
      return gemmaFamily(cfg, w, 3);
    default:
      throw new Error(`reference: no family ${String(cfg.model_type)}`);
  }
}

/** Rotates each head of v (rotate-half convention) at position `pos`. */
function rotate(v: Vec, heads: number, hd: number, pos: number, f: number[], attn: number): void {
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      const a = pos * (f[i] ?? 0);
      const c = Math.cos(a) * attn;
      const s = Math.sin(a) * attn;
      const i0 = h * hd + i;
      const i1 = i0 + hd / 2;
      const x0 = v[i0] ?? 0;
      const x1 = v[i1] ?? 0;
      v[i0] = x0 * c - x1 * s;
      v[i1] = x1 * c + x0 * s;
    }
  }
}

/** Opens a reference decoding session over a Hugging Face config and its tensors (as the test wrote them). */
export function referenceSession(config: Config, tensors: Record<string, TinyTensor>): ReferenceSession {
  const F = familyOf(config, tensors);
  const L = F.layers.length;
  const keys: Vec[][] = Array.from({ length: L }, () => []);
  const vals: Vec[][] = Array.from({ length: L }, () => []);
  const G = F.H / F.kvH;
  let past = 0;
  return {
    step(ids) {
      const T = ids.length;
      let xs = ids.map((id) => F.embed(id));
      for (let l = 0; l < L; l++) {
        const spec = F.layers[l] ?? { window: Infinity, theta: 10000, scaling: null };
        const rope = invFreq(F.cfg, F.hd, spec.theta, spec.scaling, past + T);
        const qs = xs.map((x, t) => {
          const { q, k, v } = F.qkv(l, x);
          rotate(q, F.H, F.hd, past + t, rope.f, rope.attn);
          rotate(k, F.kvH, F.hd, past + t, rope.f, rope.attn);
          keys[l]?.push(k);
          vals[l]?.push(v);
          return q;
        });
        xs = xs.map((x, t) => {
          const pos = past + t;
          const q = qs[t] ?? new Float64Array(0);
          const out = new Float64Array(F.H * F.hd);
          for (let h = 0; h < F.H; h++) {
            const kv = Math.floor(h / G);
            const scores: number[] = [];
            const js: number[] = [];
            for (let j = 0; j <= pos; j++) {
              if (pos - j >= spec.window) continue;
              let dot = 0;
              for (let i = 0; i < F.hd; i++) dot += (q[h * F.hd + i] ?? 0) * (keys[l]?.[j]?.[kv * F.hd + i] ?? 0);
              let sc = dot * F.scale;
              if (F.attnSoftcap !== undefined) sc = Math.tanh(sc / F.attnSoftcap) * F.attnSoftcap;
              scores.push(sc);
              js.push(j);
            }
            const m = Math.max(...scores);
            const e = scores.map((s) => Math.exp(s - m));
            const sum = e.reduce((a, b) => a + b, 0);
            js.forEach((j, idx) => {
              for (let i = 0; i < F.hd; i++) out[h * F.hd + i] = (out[h * F.hd + i] ?? 0) + ((e[idx] ?? 0) / sum) * (vals[l]?.[j]?.[kv * F.hd + i] ?? 0);
            });
          }
          return F.finish(l, x, out);
        });
      }
      past += T;
      return xs.map((x) => F.logits(x));
    },
  };
}
