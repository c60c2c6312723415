// `npm run bench:runtime`: decode and prefill tokens/s of the block runtime on onnxruntime-web wasm in Node,
// for stories260K (real weights) and a synthetic 1B-Llama-shaped block range, at 1 and 2 threads.
// Each thread count runs in its own process (ort.env.wasm.numThreads is fixed once a process starts).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { build } from 'vite';
import { chromiumPath, launchChromium, startStaticServer } from '../../browser/chromium.ts';
import type { BrowserBenchRequest, BrowserBenchResult } from './page/page.ts';
import type { ModelShape, WeightPrecision } from '../../../core/model/index.ts';
import { blockBytes } from '../../../core/model/index.ts';
import { createInThreadRuntime, generateText, openModelWeights, syntheticWeights, openTokenizer, type ModelWeights } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/index.ts';

/** Llama-3.2-1B's block shape (hidden 2048, 32 query / 8 KV heads of 64, FFN 8192). */
const llama1B: ModelShape = {
  family: 'llama', numBlocks: 16, hiddenSize: 2048, numHeads: 32, numKvHeads: 8, headDim: 64, ffnSize: 8192, vocabSize: 128256,
  maxSeqLen: 2048, rmsNormEps: 1e-5, ropeTheta: 500000, ropeStyle: 'rotate-half', tiedEmbeddings: true, attentionBias: false,
};

/** Longest warm-up session, tokens. */
const warmTokens = 320;

interface Row {
  model: string;
  blocks: number;
  precision: WeightPrecision;
  threads: number;
  prefillTokens: number;
  prefillTokPerS: number;
  decodeTokPerS: number;
  decodeMsPerBlock: number;
  /** Process CPU time (user + system, all threads) per decode step, ms: robust to other processes on a shared machine. */
  decodeCpuMsPerStep: number;
  endToEndTokPerS?: number;
  loadS: number;
}

async function measure(name: string, weights: ModelWeights, blocks: number, precision: WeightPrecision, threads: number, prefillTokens: number, decodeSteps: number): Promise<Row> {
  const t0 = performance.now();
  const rt = await createInThreadRuntime(ort, weights, {
    blocks: { start: 0, end: blocks }, precision, backends: ['wasm'], threads, maxSessionTokens: Math.max(warmTokens, prefillTokens + decodeSteps + 8), cacheBudgetBytes: Number.MAX_SAFE_INTEGER,
  });
  const loadS = (performance.now() - t0) / 1000;
  const d = weights.shape.hiddenSize;
  const rows = (t: number): Float32Array => Float32Array.from({ length: t * d }, (_, i) => Math.sin(i * 0.37) * 0.5);
  // Warm-up: the first runs allocate and prepack, and V8 tiers wasm up from Liftoff to TurboFan only after
  // many calls (stories260K decode: ~10 ms CPU/step for the first ~100 steps, ~2.5 ms after 200).
  await rt.openSession({ sessionId: 'warm', blocks: { start: 0, end: blocks }, maxLength: warmTokens });
  await rt.step('warm', rows(8));
  const w0 = performance.now();
  for (let i = 0; i < warmTokens - 8 && (i < 8 || performance.now() - w0 < 2000); i++) await rt.step('warm', rows(1));
  await rt.closeSession('warm');
  await rt.openSession({ sessionId: 'b', blocks: { start: 0, end: blocks }, maxLength: prefillTokens + decodeSteps + 8 });
  const pre = await rt.step('b', rows(prefillTokens));
  let decodeMs = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < decodeSteps; i++) decodeMs += (await rt.step('b', rows(1))).computeMs;
  const cpu = process.cpuUsage(cpu0);
  await rt.dispose();
  const decodeTokPerS = (1000 * decodeSteps) / decodeMs;
  return {
    model: name, blocks, precision, threads, prefillTokens, loadS,
    prefillTokPerS: (1000 * prefillTokens) / pre.computeMs,
    decodeTokPerS,
    decodeMsPerBlock: decodeMs / decodeSteps / blocks,
    decodeCpuMsPerStep: (cpu.user + cpu.system) / 1000 / decodeSteps,
  };
}

async function child(threads: number, which: string): Promise<Row[]> {
  const out: Row[] = [];
  if (which === 'stories' || which === 'all') {
    const files = folderModelFiles('../shared/models/stories260K');
    const w = await openModelWeights(files);
    const row = await measure('stories260K', w, w.shape.numBlocks, 'fp32', threads, 128, 64);
    // End to end: embed + 5 blocks + head + sampling, greedy, as `bouquet generate` does.
    const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, client: true, backends: ['wasm'], threads, maxSessionTokens: 512, cacheBudgetBytes: Number.MAX_SAFE_INTEGER });
    const g = await generateText(rt, await openTokenizer(files, w.shape), '', { maxNewTokens: 200 });
    row.endToEndTokPerS = g.tokensPerSecond;
    await rt.dispose();
    out.push(row);
  }
  if (which === '1b' || which === 'all') {
    const w = syntheticWeights(llama1B, 1);
    out.push(await measure('Llama-1B-shape (random)', w, 2, 'fp32', threads, 64, 6));
    out.push(await measure('Llama-1B-shape (random)', w, 2, 'q4', threads, 64, 6));
  }
  return out;
}

interface BrowserRow {
  model: string;
  blocks: number;
  precision: WeightPrecision;
  backend: string;
  threads: number;
  prefillTokens: number;
  prefillTokPerS: number;
  decodeTokPerS: number;
  decodeWallMs: number;
}

/** The same measurements in headless Chromium (module worker + Comlink), wasm at 1 and 2 threads, and WebGPU on SwiftShader. */
async function browserRows(): Promise<BrowserRow[]> {
  if (!existsSync(chromiumPath)) {
    console.error(`(no ${chromiumPath}: skipping the browser figures)`);
    return [];
  }
  const outDir = await mkdtemp(join(tmpdir(), 'bouquet-bench-page-'));
  await build({ configFile: false, root: resolve('tools/bench/runtime/page'), logLevel: 'error', build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 1e6 }, worker: { format: 'es' } });
  const server = await startStaticServer({ '/': outDir, '/ort/': resolve('node_modules/onnxruntime-web/dist'), '/models/': resolve('../shared/models') });
  const browser = await launchChromium({ webgpu: true });
  const rows: BrowserRow[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => 'bouquetBench' in globalThis);
    type Req = BrowserBenchRequest;
    type Res = BrowserBenchResult;
    const run = (r: Req): Promise<Res> => page.evaluate((x) => (globalThis as unknown as { bouquetBench: { bench(q: Req): Promise<Res> } }).bouquetBench.bench(x), r);
    const cases: [string, Req][] = [];
    for (const threads of [1, 2]) {
      cases.push(['stories260K', { model: { kind: 'url', baseUrl: '/models/stories260K/', checkpoint: 'stories260K.bin' }, blocks: 5, precision: 'fp32', backend: 'wasm', threads, prefillTokens: 128, decodeSteps: 64 }]);
      cases.push(['Llama-1B-shape (random)', { model: { kind: 'synthetic', shape: llama1B, seed: 1 }, blocks: 2, precision: 'fp32', backend: 'wasm', threads, prefillTokens: 64, decodeSteps: 6 }]);
    }
    cases.push(['stories260K', { model: { kind: 'url', baseUrl: '/models/stories260K/', checkpoint: 'stories260K.bin' }, blocks: 5, precision: 'fp32', backend: 'webgpu', threads: 1, prefillTokens: 32, decodeSteps: 8 }]);
    for (const [model, req] of cases) {
      const r = await run(req);
      rows.push({ model, blocks: req.blocks, precision: req.precision, backend: `${r.backend}${r.backend === 'webgpu' ? ' (SwiftShader)' : ''}`, threads: r.threads, prefillTokens: req.prefillTokens, prefillTokPerS: r.prefillTokPerS, decodeTokPerS: r.decodeTokPerS, decodeWallMs: r.decodeWallMs });
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(outDir, { recursive: true, force: true });
  }
  return rows;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const childAt = args.indexOf('--child');
  if (childAt >= 0) {
    const threads = Number(args[childAt + 1]);
    const which = args[childAt + 2] ?? 'all';
    process.stdout.write(JSON.stringify(await child(threads, which)));
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  const load0 = loadavg()[0] ?? 0;
  for (const threads of [1, 2]) {
    for (const which of ['stories', '1b']) {
      const json = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', String(threads), which], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
      rows.push(...(JSON.parse(json) as Row[]));
    }
  }
  const browser = args.includes('--no-browser') ? [] : await browserRows();
  const load1 = loadavg()[0] ?? 0;
  console.log(`Block runtime benchmark — onnxruntime-web ${ort.env.versions.web ?? '?'} wasm in Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, no GPU`);
  console.log(`load average (1 min) before/after: ${load0.toFixed(1)} / ${load1.toFixed(1)} (the machine is shared: figures are lower bounds)`);
  console.log(`1B-shape block: ${(blockBytes(llama1B, 'fp32') / 2 ** 20).toFixed(0)} MiB fp32, ${(blockBytes(llama1B, 'q4') / 2 ** 20).toFixed(0)} MiB q4`);
  console.log('');
  console.log('| model | blocks | weights | threads | prefill tok/s (T) | decode tok/s | decode ms/block | decode CPU ms/step | generate tok/s (end to end) | load s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.blocks} | ${r.precision} | ${r.threads} | ${r.prefillTokPerS.toFixed(1)} (${r.prefillTokens}) | ${r.decodeTokPerS.toFixed(1)} | ${r.decodeMsPerBlock.toFixed(2)} | ${r.decodeCpuMsPerStep.toFixed(2)} | ${r.endToEndTokPerS?.toFixed(1) ?? '–'} | ${r.loadS.toFixed(1)} |`);
  }
  if (browser.length > 0) {
    console.log('');
    console.log(`Headless Chromium, module worker + Comlink, cross-origin isolated page:`);
    console.log('');
    console.log('| model | blocks | backend | threads | prefill tok/s (T) | decode tok/s | decode wall ms/step (with Comlink) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of browser) {
      console.log(`| ${r.model} | ${r.blocks} | ${r.backend} | ${r.threads} | ${r.prefillTokPerS.toFixed(1)} (${r.prefillTokens}) | ${r.decodeTokPerS.toFixed(1)} | ${r.decodeWallMs.toFixed(2)} |`);
    }
  }
}

await main();
