import * as ort from 'onnxruntime-web';
import { GraphBuilder } from '../../../worker/graph/onnx-builder.ts';
import { quantizeQ4 } from '../../../worker/graph/quantize.ts';
ort.env.wasm.numThreads = Number(process.argv[2] ?? 1);
const K = Number(process.argv[3] ?? 2048), N = Number(process.argv[4] ?? 8192);
let seed = 12345; const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };
const w = Float32Array.from({ length: N * K }, () => rnd() * 0.1);
const wt = new Float32Array(K * N); for (let r = 0; r < N; r++) for (let c = 0; c < K; c++) wt[c * N + r] = w[r * K + c]!;
// per-column (output) symmetric int8 in [K,N]
const ws = new Float32Array(N); const wq = new Uint8Array(K * N); const wqi = new Uint8Array(K*N);
for (let n = 0; n < N; n++) { let m = 0; for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(wt[k * N + n]!)); ws[n] = m / 127; }
for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) { const q = Math.round(wt[k * N + n]! / (ws[n] || 1)); wq[k * N + n] = q + 128; wqi[k*N+n] = q & 255; }
const zp128 = new Uint8Array(N).fill(128);
function q8blocks(bs: number) { // MatMulNBits 8 bit layout [N, blocks, bs]
  const blocks = Math.ceil(K / bs); const packed = new Uint8Array(N * blocks * bs); const sc = new Float32Array(N * blocks);
  for (let r = 0; r < N; r++) for (let b = 0; b < blocks; b++) { let m = 0; for (let i = 0; i < bs; i++) m = Math.max(m, Math.abs(w[r * K + b * bs + i] ?? 0)); const s = m / 127; sc[r * blocks + b] = s;
    for (let i = 0; i < bs; i++) packed[(r * blocks + b) * bs + i] = Math.round((w[r * K + b * bs + i] ?? 0) / (s || 1)) + 128; }
  return { packed, sc, blocks };
}
type V = [string, (g: GraphBuilder) => string];
const variants: V[] = [
  ['fp32 MatMul', (g) => g.op('MatMul', ['x', g.init('W', 'float32', [K, N], wt)])],
  ['MatMulInteger+DQL', (g) => { const [xq, xs, xz] = g.node('DynamicQuantizeLinear', ['x'], 3); const y = g.op('MatMulInteger', [xq!, g.init('Wq', 'uint8', [K, N], wq), xz!, g.init('wz', 'uint8', [N], zp128)]); return g.op('Mul', [g.op('Mul', [g.op('Cast', [y], { to: 1 }), xs!]), g.init('ws', 'float32', [N], ws)]); }],
  ['MatMulInteger s8 W',  (g) => { const [xq, xs, xz] = g.node('DynamicQuantizeLinear', ['x'], 3); const y = g.op('MatMulInteger', [xq!, g.init('Wq', 'int8', [K, N], wqi), xz!]); return g.op('Mul', [g.op('Mul', [g.op('Cast', [y], { to: 1 }), xs!]), g.init('ws', 'float32', [N], ws)]); }],
  ['DQL(W int8)+MatMul', (g) => g.op('MatMul', ['x', g.op('DequantizeLinear', [g.init('Wq', 'int8', [K, N], wqi), g.init('ws', 'float32', [N], ws)], { axis: 1 })])],
  ['DynamicQuantizeMatMul s8', (g) => g.op('DynamicQuantizeMatMul', ['x', g.init('Wq', 'int8', [K, N], wqi), g.init('ws', 'float32', [N], ws)], {}, 'com.microsoft')],
  ['MatMulIntegerToFloat s8', (g) => { const [xq, xs, xz] = g.node('DynamicQuantizeLinear', ['x'], 3); return g.op('MatMulIntegerToFloat', [xq!, g.init('Wq', 'int8', [K, N], wqi), xs!, g.init('ws', 'float32', [N], ws), xz!], {}, 'com.microsoft'); }],
  ['DynamicQuantizeMatMul u8', (g) => g.op('DynamicQuantizeMatMul', ['x', g.init('Wq', 'uint8', [K, N], wq), g.init('ws', 'float32', [N], ws), g.init('wz', 'uint8', [N], zp128)], {}, 'com.microsoft')],
  ['MatMulNBits 8 b32', (g) => { const q = q8blocks(32); return g.op('MatMulNBits', ['x', g.init('B', 'uint8', [N, q.blocks, 32], q.packed), g.init('s', 'float32', [N * q.blocks], q.sc)], { K, N, bits: 8, block_size: 32 }, 'com.microsoft'); }],
  ['MatMulNBits 8 b32 acc4', (g) => { const q = q8blocks(32); return g.op('MatMulNBits', ['x', g.init('B', 'uint8', [N, q.blocks, 32], q.packed), g.init('s', 'float32', [N * q.blocks], q.sc)], { K, N, bits: 8, block_size: 32, accuracy_level: 4 }, 'com.microsoft'); }],
  ['MatMulNBits 4 b32', (g) => { const q = quantizeQ4(w, N, K); return g.op('MatMulNBits', ['x', g.init('B', 'uint8', [N, K / 32, 16], q.packed), g.init('s', 'float32', [N * K / 32], q.scales)], { K, N, bits: 4, block_size: 32 }, 'com.microsoft'); }],
  ['MatMulNBits 4 b32 acc4', (g) => { const q = quantizeQ4(w, N, K); return g.op('MatMulNBits', ['x', g.init('B', 'uint8', [N, K / 32, 16], q.packed), g.init('s', 'float32', [N * K / 32], q.scales)], { K, N, bits: 4, block_size: 32, accuracy_level: 4 }, 'com.microsoft'); }],
];
const M = Number(process.argv[5] ?? 1);
const x = Float32Array.from({ length: M * K }, () => rnd());
let ref: Float32Array | null = null;
for (const [name, f] of variants) {
  try {
    const g = new GraphBuilder('p'); g.input('x', 'float32', [M, K]); const y = f(g); g.node('Identity', [y], ['y']); g.output('y', 'float32', [M, N]);
    const s = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['wasm'] });
    const feeds = { x: new ort.Tensor('float32', x, [M, K]) };
    let out: Float32Array = new Float32Array();
    for (let i = 0; i < 20; i++) out = (await s.run(feeds)).y!.data as Float32Array;
    const t0 = performance.now(); const n = 60; const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await s.run(feeds);
    const ms = (performance.now() - t0) / n; const c = process.cpuUsage(c0); const cpuMs = (c.user + c.system) / 1000 / n;
    if (ref === null) ref = out;
    let err = 0, mag = 0; for (let i = 0; i < N; i++) { err = Math.max(err, Math.abs(out[i]! - ref[i]!)); mag = Math.max(mag, Math.abs(ref[i]!)); }
    console.log(`${name.padEnd(28)} ${ms.toFixed(3)} ms wall ${cpuMs.toFixed(3)} ms cpu  relerr ${(err / mag).toExponential(2)}`);
    await s.release();
  } catch (e) { console.log(`${name}: FAILED ${(e as Error).message.slice(0, 200)}`); }
}
