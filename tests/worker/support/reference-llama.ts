// A plain TypeScript Llama forward pass (float64 accumulation), the reference the ONNX graphs are checked against.
import type { ModelShape } from '../../../core/model/index.ts';
import type { BlockWeights } from '../../../worker/weights/index.ts';

function matVec(w: Float32Array, x: Float64Array, rows: number, cols: number, bias?: Float32Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = bias?.[r] ?? 0;
    for (let c = 0; c < cols; c++) acc += (w[r * cols + c] ?? 0) * (x[c] ?? 0);
    y[r] = acc;
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * (w[i] ?? 0));
}

/** Rotates one head vector in place at position `pos` in the shape's convention. */
function rope(v: Float64Array, off: number, pos: number, s: ModelShape): void {
  const hd = s.headDim;
  for (let i = 0; i < hd / 2; i++) {
    const a = pos / s.ropeTheta ** ((2 * i) / hd);
    const c = Math.cos(a);
    const sn = Math.sin(a);
    const [i0, i1] = s.ropeStyle === 'interleaved' ? [off + 2 * i, off + 2 * i + 1] : [off + i, off + i + hd / 2];
    const x0 = v[i0] ?? 0;
    const x1 = v[i1] ?? 0;
    v[i0] = x0 * c - x1 * sn;
    v[i1] = x0 * sn + x1 * c;
  }
}

/** Runs `blocks` over hidden states [T, d] (positions from 0), returning [T, d]. Causal attention over the sequence. */
export function referenceBlocks(s: ModelShape, blocks: BlockWeights[], hidden: Float32Array): Float32Array {
  const d = s.hiddenSize;
  const T = hidden.length / d;
  const hd = s.headDim;
  const G = s.numHeads / s.numKvHeads;
  let xs = Array.from({ length: T }, (_, t) => Float64Array.from(hidden.subarray(t * d, (t + 1) * d)));
  for (const w of blocks) {
    const keys: Float64Array[] = [];
    const vals: Float64Array[] = [];
    const qs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const h = rmsNorm(xs[t] ?? new Float64Array(d), w.attnNorm, s.rmsNormEps);
      const q = matVec(w.wq, h, s.numHeads * hd, d, w.bq);
      const k = matVec(w.wk, h, s.numKvHeads * hd, d, w.bk);
      for (let hh = 0; hh < s.numHeads; hh++) rope(q, hh * hd, t, s);
      for (let hh = 0; hh < s.numKvHeads; hh++) rope(k, hh * hd, t, s);
      qs.push(q);
      keys.push(k);
      vals.push(matVec(w.wv, h, s.numKvHeads * hd, d, w.bv));
    }
    xs = xs.map((x, t) => {
      const q = qs[t] ?? new Float64Array(0);
      const att = new Float64Array(s.numHeads * hd);
      for (let hh = 0; hh < s.numHeads; hh++) {
        const kvh = Math.floor(hh / G);
        const scores: number[] = [];
        for (let j = 0; j <= t; j++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += (q[hh * hd + i] ?? 0) * (keys[j]?.[kvh * hd + i] ?? 0);
          scores.push(dot / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let i = 0; i < hd; i++) att[hh * hd + i] = (att[hh * hd + i] ?? 0) + ((e[j] ?? 0) / sum) * (vals[j]?.[kvh * hd + i] ?? 0);
      }
      const o = matVec(w.wo, att, d, s.numHeads * hd);
      const x2 = x.map((v, i) => v + (o[i] ?? 0));
      const h2 = rmsNorm(x2, w.ffnNorm, s.rmsNormEps);
      const g = matVec(w.wGate, h2, s.ffnSize, d);
      const u = matVec(w.wUp, h2, s.ffnSize, d);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * (u[i] ?? 0));
      const down = matVec(w.wDown, a, d, s.ffnSize);
      return x2.map((v, i) => v + (down[i] ?? 0));
    });
  }
  const out = new Float32Array(T * d);
  xs.forEach((x, t) => out.set(x, t * d));
  return out;
}

/** Final norm + LM head of one hidden row. */
export function referenceHead(s: ModelShape, finalNorm: Float32Array, lmHead: Float32Array, row: Float32Array): Float32Array {
  const h = rmsNorm(Float64Array.from(row), finalNorm, s.rmsNormEps);
  return Float32Array.from(matVec(lmHead, h, s.vocabSize, s.hiddenSize));
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}
