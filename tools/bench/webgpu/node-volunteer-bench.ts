// `npm run bench:node-webgpu`: decode ms/token of a Node volunteer's runtime on every block of stories260K, Dawn WebGPU
// against wasm, in one process, rounds interleaved (a shared, noisy machine: read the ratio). Without a GPU this is
// SwiftShader's CPU rasteriser (Chromium's Vulkan ICD), which says nothing about WebGPU on a real GPU.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as wasmOrt from 'onnxruntime-web';
import { quantile } from '../../../core/stats/index.ts';
import { resolveModel } from '../../../server/index.ts';
import { createInThreadRuntime, openModelWeights, type BlockRuntime, type ModelWeights, type Ort } from '../../../worker/index.ts';
import { baselineWasmOnly, decideNodeBackend, keepDawnAwake } from '../../dawn/index.ts';

const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

async function open(ort: Ort, weights: ModelWeights, backend: 'wasm' | 'webgpu', tokens: number): Promise<BlockRuntime> {
  const rt = await createInThreadRuntime(ort, weights, { blocks: { start: 0, end: weights.shape.numBlocks }, backends: [backend], threads: 1, maxSessionTokens: tokens });
  await rt.openSession({ sessionId: 'bench', blocks: { start: 0, end: weights.shape.numBlocks }, maxLength: tokens });
  return rt;
}

/** `steps` one-token steps through every block; ms of each. */
async function decode(rt: BlockRuntime, d: number, steps: number, offset: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const row = Float32Array.from({ length: d }, (_, j) => Math.sin((offset + i) * 0.7 + j * 0.37) * 0.5);
    const t0 = performance.now();
    await rt.step('bench', row);
    ms.push(performance.now() - t0);
  }
  return ms;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, rounds: { type: 'string' }, steps: { type: 'string' } } });
  const modelPath = values.model ?? path.resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'models', 'stories260K');
  const rounds = Number(values.rounds ?? 4);
  const steps = Number(values.steps ?? 12);
  // Without a GPU driver, Chromium's SwiftShader ICD (set before Dawn creates its Vulkan instance).
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(swiftShaderIcd)) process.env.VK_ICD_FILENAMES = swiftShaderIcd;
  process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  const model = await resolveModel(modelPath);
  const weights = await openModelWeights(model.files, model.layout);
  const d = weights.shape.hiddenSize;
  const tokens = 16 + rounds * steps + 16;
  // wasm first and warm, so its hot functions reach TurboFan before WebGPU's build switches V8 to Liftoff only.
  const wasm = await open(wasmOrt, weights, 'wasm', tokens);
  await decode(wasm, d, 16, 0);
  const decision = await decideNodeBackend('webgpu');
  baselineWasmOnly();
  const release = keepDawnAwake();
  try {
    const gpuOrt = (await import('onnxruntime-web/webgpu')) as Ort;
    const gpu = await open(gpuOrt, weights, 'webgpu', tokens);
    await decode(gpu, d, 16, 0);
    const ms = { wasm: [] as number[], webgpu: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      ms.wasm.push(...await decode(wasm, d, steps, 16 + r * steps));
      ms.webgpu.push(...await decode(gpu, d, steps, 16 + r * steps));
    }
    const med = { wasm: quantile(ms.wasm, 0.5), webgpu: quantile(ms.webgpu, 0.5) };
    console.log(`Node volunteer runtime, ${path.basename(modelPath)} (${weights.shape.numBlocks} blocks, fp32, 1 thread), ${rounds} interleaved rounds × ${steps} decode steps; ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`WebGPU adapter: ${decision.adapter?.description ?? '?'}${decision.adapter?.software === true ? ' (software: a CPU rasteriser, not a GPU)' : ''}`);
    console.log('');
    console.log('| backend | decode ms/token, median | p90 |');
    console.log('|---|---|---|');
    for (const b of ['wasm', 'webgpu'] as const) console.log(`| ${b} | ${med[b].toFixed(2)} | ${quantile(ms[b], 0.9).toFixed(2)} |`);
    console.log('');
    console.log(`webgpu / wasm: ${(med.webgpu / med.wasm).toFixed(1)}×`);
    await gpu.dispose();
    await wasm.dispose();
    return 0;
  } finally {
    release();
  }
}

process.exitCode = await main();
