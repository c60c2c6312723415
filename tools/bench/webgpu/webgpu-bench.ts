// `npm run bench:webgpu`: the block runtime on WebGPU in Node (Dawn's `webgpu` package, Vulkan), checked against wasm,
// decode ms/block for Llama-3.2-1B and Llama-3-8B shaped blocks in fp16 and q4. Bundled by pack.sh to run where no
// Node, browser or registry is (out/webgpu-bench/run.sh).
import { BouquetError } from '../../../core/errors/index.ts';
import * as ort from 'onnxruntime-web/webgpu';
import type { ModelShape, WeightPrecision } from '../../../core/model/index.ts';
import { createInThreadRuntime, type BackendName, type BlockRuntime } from '../../../worker/index.ts';
import { syntheticWeights } from '../../../worker/index.ts';
import { benchShapes, llama1B } from '../runtime/shapes.ts';
import { installDawnWebGpu, keepDawnAwake } from '../../dawn/index.ts';

/** navigator.gpu from Dawn (tools/dawn: $BOUQUET_WEBGPU_MODULE, else the package); throws when it finds no adapter. */
async function installWebGpu(): Promise<{ adapter: string; shaderF16: boolean }> {
  const probe = await installDawnWebGpu();
  if (!probe.ok) throw new BouquetError('backend-unavailable', `${probe.reason} (install mesa-vulkan-drivers for a CPU one, or the GPU vendor's Vulkan ICD)`);
  return { adapter: probe.adapter.description, shaderF16: probe.adapter.shaderF16 };
}

const row = (d: number, t: number): Float32Array => Float32Array.from({ length: t * d }, (_, i) => Math.sin(i * 0.37 + t) * 0.5);

async function open(shape: ModelShape, precision: WeightPrecision, backend: BackendName, tokens: number): Promise<BlockRuntime> {
  return createInThreadRuntime(ort, syntheticWeights(shape, 1), {
    blocks: { start: 0, end: 1 }, precision, backends: [backend], threads: 1, maxSessionTokens: tokens, cacheBudgetBytes: Number.MAX_SAFE_INTEGER,
  });
}

/** Prefill `prefill` rows then `decode` one-token steps; the last step's hidden state and the mean decode ms. */
async function run(rt: BlockRuntime, d: number, prefill: number, decode: number): Promise<{ last: Float32Array; decodeMs: number }> {
  await rt.openSession({ sessionId: 'b', blocks: { start: 0, end: 1 }, maxLength: prefill + decode + 1 });
  await rt.step('b', row(d, prefill));
  let ms = 0;
  let last: Float32Array = new Float32Array();
  for (let i = 0; i < decode; i++) {
    const t0 = performance.now();
    last = (await rt.step('b', row(d, 1))).hidden;
    ms += performance.now() - t0;
  }
  await rt.closeSession('b');
  return { last, decodeMs: ms / decode };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    mag = Math.max(mag, Math.abs(b[i] ?? 0));
  }
  return err / Math.max(mag, 1e-12);
}

async function main(): Promise<number> {
  const { adapter, shaderF16 } = await installWebGpu();
  // Half precision needs shader-f16 (every discrete GPU has it; SwiftShader does not): fall back to fp32 and say so.
  const half: WeightPrecision = shaderF16 ? 'fp16' : 'fp32';
  console.log(`WebGPU block runtime benchmark — onnxruntime-web ${ort.env.versions.web ?? '?'} in Node ${process.version}, adapter: ${adapter}${shaderF16 ? '' : ' (no shader-f16: fp32 in place of fp16)'}`);
  // Check: one 1B-shaped block, WebGPU against wasm (fp16 against fp32; q4 against q4), prefill 8 + decode 4.
  let failed = false;
  console.log('');
  console.log('| check (Llama-3.2-1B block, prefill 8 + decode 4) | max |Δ| / max |wasm| | bound | ok |');
  console.log('|---|---|---|---|');
  for (const [gpuPrecision, cpuPrecision, bound] of [[half, 'fp32', half === 'fp16' ? 3e-2 : 1e-3], ['q4', 'q4', 1e-3]] as const) {
    const gpu = await open(llama1B, gpuPrecision, 'webgpu', 32);
    const backend = (await gpu.info()).backend;
    const g = await run(gpu, llama1B.hiddenSize, 8, 4);
    await gpu.dispose();
    const cpu = await open(llama1B, cpuPrecision, 'wasm', 32);
    const c = await run(cpu, llama1B.hiddenSize, 8, 4);
    await cpu.dispose();
    const e = relErr(g.last, c.last);
    const ok = backend === 'webgpu' && Number.isFinite(e) && e < bound;
    failed ||= !ok;
    console.log(`| ${backend} ${gpuPrecision} vs wasm ${cpuPrecision} | ${e.toExponential(2)} | ${bound} | ${ok ? 'yes' : 'NO'} |`);
  }
  const decodeSteps = Number(process.env.BOUQUET_DECODE_STEPS ?? 32);
  console.log('');
  console.log(`| block shape | weights | decode ms/block (mean of ${decodeSteps}, after 16 warm-up steps) | prefill 64 + decode |`);
  console.log('|---|---|---|---|');
  const only = (process.env.BOUQUET_SHAPES ?? '').split(',').filter((x) => x !== '');
  for (const [name, shape] of Object.entries(benchShapes).filter(([n]) => only.length === 0 || only.includes(n))) {
    for (const precision of [half, 'q4'] as const) {
      const rt = await open(shape, precision, 'webgpu', 128);
      await run(rt, shape.hiddenSize, 8, 16);
      const r = await run(rt, shape.hiddenSize, 64, decodeSteps);
      await rt.dispose();
      console.log(`| ${name} | ${precision} | ${r.decodeMs.toFixed(2)} | ok |`);
    }
  }
  return failed ? 1 : 0;
}

// dawn.node settles its promises only while a handle is live (tools/dawn keepDawnAwake).
const release = keepDawnAwake();
try {
  process.exitCode = await main();
} finally {
  release();
}
