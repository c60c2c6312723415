// Weights into a graph: the layout and precision each matrix runs in (transposed, fp16, q8, q4), their bytes counted.
import type { WeightPrecision } from '../../core/model/index.ts';
import { releaseBuffers, toHalfArray } from '../weights/index.ts';
import type { ElemTypeName, GraphBuilder } from './onnx-builder.ts';
import { quantizeQ4, quantizeQ8, q4BlockSize } from './quantize.ts';

/** The element type of activations and KV cache for a precision. */
export function computeType(precision: WeightPrecision): ElemTypeName {
  return precision === 'fp16' ? 'float16' : 'float32';
}

/** Writes a graph's weights in the layout and precision it runs them, counting their bytes. */
export class WeightWriter {
  /** Bytes of model weights written (constants such as shapes and rotary tables are not counted). */
  bytes = 0;
  constructor(readonly g: GraphBuilder, readonly precision: WeightPrecision, private readonly releaseInputs = false) {}

  /** Frees `w` after it was copied into another layout, when the options allow. */
  private copied(w: Float32Array): void {
    if (this.releaseInputs) releaseBuffers([w]);
  }

  /** Runs `add` and counts the initializer bytes it added as weights. */
  private weigh<T>(add: () => T): T {
    const before = this.g.initializerBytes;
    const out = add();
    this.bytes += this.g.initializerBytes - before;
    return out;
  }

  private get type(): ElemTypeName {
    return computeType(this.precision);
  }

  /** A 1-D vector in the compute type. */
  vector(name: string, v: Float32Array): string {
    if (this.type !== 'float16') return this.weigh(() => this.g.init(name, 'float32', [v.length], v));
    const out = this.weigh(() => this.g.init(name, 'float16', [v.length], toHalfArray(v)));
    this.copied(v);
    return out;
  }

  /**
   * y = x · Wᵀ (+ b) for W [n, k] row-major. `x2d`: x is [rows, k], so Gemm with transB can use W as
   * stored (no transposed copy: the LM head of a large vocabulary is the biggest matrix of all).
   */
  linear(x: string, name: string, w: Float32Array, n: number, k: number, bias?: Float32Array, x2d = false): string {
    let y: string;
    if (this.precision === 'q8') {
      // x may be [T, k] or [1, T, k]: DynamicQuantizeMatMul is a MatMul, so both work.
      const q = quantizeQ8(w, n, k);
      const b = this.weigh(() => this.g.init(`${name}.q8`, 'int8', [k, n], q.values));
      const s = this.weigh(() => this.g.init(`${name}.scales`, 'float32', [n], q.scales));
      this.copied(w);
      y = this.g.op('DynamicQuantizeMatMul', [x, b, s], {}, 'com.microsoft');
      return bias === undefined ? y : this.g.op('Add', [y, this.vector(`${name}.bias`, bias)]);
    }
    if (x2d && this.precision !== 'q4') {
      const init = this.weigh(() => this.type === 'float16' ? this.g.init(`${name}.W`, 'float16', [n, k], toHalfArray(w)) : this.g.init(`${name}.W`, 'float32', [n, k], w));
      if (this.type === 'float16') this.copied(w);
      const inputs = bias === undefined ? [x, init] : [x, init, this.vector(`${name}.bias`, bias)];
      return this.g.op('Gemm', inputs, { transB: 1 });
    }
    if (this.precision === 'q4') {
      const q = quantizeQ4(w, n, k);
      const blocks = Math.ceil(k / q4BlockSize);
      const b = this.weigh(() => this.g.init(`${name}.q4`, 'uint8', [n, blocks, q4BlockSize / 2], q.packed));
      const s = this.weigh(() => this.g.init(`${name}.scales`, 'float32', [n * blocks], q.scales));
      this.copied(w);
      y = this.g.op('MatMulNBits', [x, b, s], { K: k, N: n, bits: 4, block_size: q4BlockSize }, 'com.microsoft');
    } else {
      const t = transpose(w, n, k);
      const init = this.weigh(() => this.type === 'float16'
        ? this.g.init(`${name}.T`, 'float16', [k, n], toHalfArray(t))
        : this.g.init(`${name}.T`, 'float32', [k, n], t));
      this.copied(w);
      y = this.g.op('MatMul', [x, init]);
    }
    return bias === undefined ? y : this.g.op('Add', [y, this.vector(`${name}.bias`, bias)]);
  }
}

function transpose(w: Float32Array, n: number, k: number): Float32Array {
  const t = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) t[c * n + r] = w[r * k + c] ?? 0;
  return t;
}
