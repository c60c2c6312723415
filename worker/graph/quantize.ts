// Weight quantization: int8 per output channel for com.microsoft.DynamicQuantizeMatMul, and 4-bit blocks of 32 for MatMulNBits.

/**
 * DynamicQuantizeMatMul operands for W [N, K] (row-major, [out, in]): B is stored [K, N] as the op
 * wants. One scale per output channel rather than per block of K: the int8 GEMM applies a single scale
 * per column of B, and MatMulNBits with bits = 8 (block-wise) dequantizes to fp32 on every call on wasm
 * (measured ~8× slower than fp32, `tools/bench/runtime/op-probe.ts`).
 */
export interface Q8Weights {
  /** int8 values [K, N] (transposed, as the op reads them). */
  values: Int8Array;
  /** One scale per output channel, [N]: w ≈ q · scale. */
  scales: Float32Array;
  n: number;
  k: number;
}

/** Symmetric int8 per output channel: s = max|w_row| / 127, q = round(w / s) ∈ [−127, 127]. */
export function quantizeQ8(w: Float32Array, n: number, k: number): Q8Weights {
  const values = new Int8Array(k * n);
  const scales = new Float32Array(n);
  for (let row = 0; row < n; row++) {
    let absMax = 0;
    for (let c = 0; c < k; c++) absMax = Math.max(absMax, Math.abs(w[row * k + c] ?? 0));
    const scale = absMax / 127;
    scales[row] = scale;
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let c = 0; c < k; c++) values[c * n + row] = Math.max(-127, Math.min(127, Math.round((w[row * k + c] ?? 0) * inv)));
  }
  return { values, scales, n, k };
}

/** The float matrix [N, K] a Q8Weights stands for (for tests and error estimates). */
export function dequantizeQ8(q: Q8Weights): Float32Array {
  const out = new Float32Array(q.n * q.k);
  for (let row = 0; row < q.n; row++) for (let c = 0; c < q.k; c++) out[row * q.k + c] = (q.values[c * q.n + row] ?? 0) * (q.scales[row] ?? 0);
  return out;
}

/** MatMulNBits operands for a weight matrix W [N, K] (row-major, [out, in]). */
export interface Q4Weights {
  /** Packed nibbles [N, ceil(K/32), 16]: element 2i in the low nibble, 2i+1 in the high nibble. */
  packed: Uint8Array;
  /** One scale per (row, block): [N · ceil(K/32)]. */
  scales: Float32Array;
  n: number;
  k: number;
}

/** Block size of the quantization (MatMulNBits `block_size`). */
export const q4BlockSize = 32;

/**
 * Symmetric 4-bit quantization with the default zero point 8: q = clamp(round(w / s) + 8, 0, 15),
 * s = max|w| / 7 per block, so w ≈ (q − 8) · s. Missing K tail values are zero.
 */
export function quantizeQ4(w: Float32Array, n: number, k: number): Q4Weights {
  const blocks = Math.ceil(k / q4BlockSize);
  const packed = new Uint8Array(n * blocks * (q4BlockSize / 2));
  const scales = new Float32Array(n * blocks);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const start = row * k + b * q4BlockSize;
      const len = Math.min(q4BlockSize, k - b * q4BlockSize);
      let absMax = 0;
      for (let i = 0; i < len; i++) absMax = Math.max(absMax, Math.abs(w[start + i] ?? 0));
      const scale = absMax / 7;
      scales[row * blocks + b] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      const out = (row * blocks + b) * (q4BlockSize / 2);
      for (let i = 0; i < q4BlockSize; i += 2) {
        const q0 = i < len ? Math.min(15, Math.max(0, Math.round((w[start + i] ?? 0) * inv) + 8)) : 8;
        const q1 = i + 1 < len ? Math.min(15, Math.max(0, Math.round((w[start + i + 1] ?? 0) * inv) + 8)) : 8;
        packed[out + i / 2] = q0 | (q1 << 4);
      }
    }
  }
  return { packed, scales, n, k };
}

/** The float matrix a Q4Weights stands for (for tests and error estimates). */
export function dequantizeQ4(q: Q4Weights): Float32Array {
  const blocks = Math.ceil(q.k / q4BlockSize);
  const out = new Float32Array(q.n * q.k);
  for (let row = 0; row < q.n; row++) {
    for (let col = 0; col < q.k; col++) {
      const b = Math.floor(col / q4BlockSize);
      const i = col % q4BlockSize;
      const byte = q.packed[(row * blocks + b) * (q4BlockSize / 2) + (i >> 1)] ?? 0;
      const nib = i % 2 === 0 ? byte & 15 : byte >> 4;
      out[row * q.k + col] = (nib - 8) * (q.scales[row * blocks + b] ?? 0);
    }
  }
  return out;
}
