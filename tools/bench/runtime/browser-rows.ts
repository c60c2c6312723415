// The block runtime in headless Chromium (module worker + Comlink): wasm at 1 and 2 threads, and WebGPU on SwiftShader.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { chromiumPath, launchChromium, startStaticServer } from '../../browser/chromium.ts';
import type { BrowserBenchRequest, BrowserBenchResult } from './page/page.ts';
import type { WeightPrecision } from '../../../core/model/index.ts';
import { llama1B } from './shapes.ts';

/** What every row of the runtime bench measures (Node and browser rows alike); tokens/s. */
export interface RuntimeBenchRow {
  model: string;
  blocks: number;
  precision: WeightPrecision;
  threads: number;
  prefillTokens: number;
  prefillTokPerS: number;
  decodeTokPerS: number;
}

/** A row measured in headless Chromium. */
export interface BrowserRow extends RuntimeBenchRow {
  backend: string;
  decodeWallMs: number;
}

/** The same measurements in headless Chromium (module worker + Comlink), wasm at 1 and 2 threads, and WebGPU on SwiftShader. */
export async function browserRows(): Promise<BrowserRow[]> {
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

