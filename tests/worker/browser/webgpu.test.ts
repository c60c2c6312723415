// The browser worker in headless Chromium: WebGPU (SwiftShader) matches wasm on a block range and on the LM head.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelShape } from '../../../core/model/index.ts';
import { createInThreadRuntime } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { launchChromium, startStaticServer, type StaticServer } from '../../../tools/browser/chromium.ts';
import { maxAbsDiff } from '../support/reference-llama.ts';
import type { PageResult, PageRun } from './page.ts';

const tinyGqa: ModelShape = {
  family: 'llama', numBlocks: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, ffnSize: 128, vocabSize: 40,
  maxSeqLen: 64, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'rotate-half', tiedEmbeddings: false, attentionBias: false,
};

// Every family feature in one shape: sliding and global blocks with two rotary bases (Gemma 3), q/k norms,
// sandwich norms, GeGLU, both soft-caps, √d embeddings; and Phi-3.5's longrope crossing its context in the prefill.
const tinyGemmaLike: ModelShape = {
  ...tinyGqa, family: 'gemma3_text', numBlocks: 3, slidingWindow: 3, blockAttention: ['sliding', 'full', 'sliding'], localRopeTheta: 10000,
  ropeTheta: 1e6, ropeScaling: { kind: 'linear', factor: 8 }, qkNorm: true, sandwichNorms: true, mlpActivation: 'gelu-tanh', embedScale: 8,
  attentionScale: 0.2, attentionSoftcap: 2, logitSoftcap: 3, tiedEmbeddings: true,
};
const tinyLongrope: ModelShape = {
  ...tinyGqa, family: 'phi3', ropeScaling: { kind: 'longrope', shortFactor: [1, 1.2, 1.5, 2, 2.5, 3, 4, 5], longFactor: [1, 2, 3, 5, 8, 12, 16, 20], originalMaxPositions: 3, attentionFactor: 1.2 },
};

describe('block worker in headless Chromium', () => {
  let outDir = '';
  let server: StaticServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'bouquet-worker-page-'));
    await build({
      configFile: false,
      root: resolve('tests/worker/browser'),
      logLevel: 'error',
      build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 1e6 },
      worker: { format: 'es' },
    });
    server = await startStaticServer({
      '/': outDir,
      '/ort/': resolve('node_modules/onnxruntime-web/dist'),
      '/models/': resolve('../shared/models'),
    });
    browser = await launchChromium({ webgpu: true });
    page = await browser.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => 'bouquetTest' in globalThis);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (outDir !== '') await rm(outDir, { recursive: true, force: true });
  });

  const runInPage = (req: PageRun): Promise<PageResult> =>
    page.evaluate((r) => (globalThis as unknown as { bouquetTest: { run(x: PageRun): Promise<PageResult> } }).bouquetTest.run(r), req);

  it('has a WebGPU adapter (SwiftShader) and cross-origin isolation', async () => {
    const a = await page.evaluate(() => (globalThis as unknown as { bouquetTest: { adapterInfo(): Promise<{ webgpu: boolean }> } }).bouquetTest.adapterInfo());
    expect(a.webgpu).toBe(true);
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  });

  it('stories260K-hf over HTTP ranges: WebGPU = wasm = Node on blocks [0,5) (prefill, decode) and the LM head; errors keep their codes', async () => {
    const req: Omit<PageRun, 'backend'> = { model: { kind: 'url', baseUrl: '/models/stories260K-hf/' }, ops: 'contrib', precision: 'fp32', ids: [1, 403, 407, 261, 378, 432], numBlocks: 5 };
    // Two threads asked for (a page's default is 1: tabs of one machine share its cores): multi-threaded wasm works there.
    const wasm = await runInPage({ ...req, backend: 'wasm', threads: 2 });
    const gpu = await runInPage({ ...req, backend: 'webgpu' });
    expect(wasm.backend).toBe('wasm');
    expect(gpu.backend).toBe('webgpu');
    expect(wasm.threads).toBe(2); // cross-origin isolated page: multi-threaded wasm
    expect(maxAbsDiff(gpu.prefill, wasm.prefill)).toBeLessThan(1e-3);
    expect(maxAbsDiff(gpu.decode, wasm.decode)).toBeLessThan(1e-3);
    expect(maxAbsDiff(gpu.logits, wasm.logits)).toBeLessThan(1e-2);
    // Second load came from IndexedDB, not the network.
    expect(gpu.cache.misses).toBe(0);
    expect(gpu.cache.hits).toBeGreaterThan(0);
    expect(wasm.kvDeviceShare).toBe(0);
    expect(gpu.kvDeviceShare).toBe(1); // the KV cache stays in GPU buffers between steps
    expect(wasm.splitDiff).toBeLessThan(1e-5);
    expect(gpu.splitDiff).toBeLessThan(1e-4);
    for (const r of [wasm, gpu]) expect(r.errorCodes).toEqual({ tooLong: 'sequence-too-long', partialRow: 'bad-input', unknown: 'unknown-session', tooLongSession: 'sequence-too-long' });

    // The same numbers as the Node in-thread runtime reading the files from disk.
    const w = await openModelWeights(folderModelFiles('../shared/models/stories260K-hf'));
    const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, client: true, backends: ['wasm'], threads: 1, maxSessionTokens: 32 });
    const x = await rt.embed(Int32Array.from(req.ids));
    await rt.openSession({ sessionId: 'n', blocks: { start: 0, end: 5 }, maxLength: 16 });
    const pre = await rt.step('n', x.slice(0, 5 * 64));
    const dec = await rt.step('n', x.slice(5 * 64));
    expect(maxAbsDiff(pre.hidden, wasm.prefill)).toBeLessThan(1e-4);
    expect(maxAbsDiff(dec.hidden, wasm.decode)).toBeLessThan(1e-4);
    await rt.dispose();
  }, 300_000);

  it('GroupQueryAttention graph (head 16) and standard-ops graph: WebGPU = wasm', async () => {
    for (const ops of ['contrib', 'standard'] as const) {
      const req: Omit<PageRun, 'backend'> = { model: { kind: 'synthetic', shape: tinyGqa, seed: 3 }, ops, precision: 'fp32', ids: [1, 5, 9, 13, 17], numBlocks: 2 };
      // Two threads asked for (a page's default is 1: tabs of one machine share its cores): multi-threaded wasm works there.
    const wasm = await runInPage({ ...req, backend: 'wasm', threads: 2 });
      const gpu = await runInPage({ ...req, backend: 'webgpu' });
      expect(gpu.backend).toBe('webgpu');
      expect(maxAbsDiff(gpu.prefill, wasm.prefill)).toBeLessThan(1e-3);
      expect(maxAbsDiff(gpu.decode, wasm.decode)).toBeLessThan(1e-3);
      expect(maxAbsDiff(gpu.logits, wasm.logits)).toBeLessThan(1e-2);
      expect(gpu.splitDiff).toBeLessThan(1e-4);
    }
  }, 300_000);

  it('q4 (MatMulNBits) on WebGPU = q4 on wasm; fp16 on WebGPU ≈ fp32 when the adapter has shader-f16, else refused', async () => {
    const base: Omit<PageRun, 'backend' | 'precision'> = { model: { kind: 'synthetic', shape: tinyGqa, seed: 3 }, ops: 'contrib', ids: [1, 5, 9, 13, 17], numBlocks: 2 };
    const q4wasm = await runInPage({ ...base, precision: 'q4', backend: 'wasm' });
    const q4gpu = await runInPage({ ...base, precision: 'q4', backend: 'webgpu' });
    expect(maxAbsDiff(q4gpu.decode, q4wasm.decode)).toBeLessThan(1e-3);
    expect(maxAbsDiff(q4gpu.logits, q4wasm.logits)).toBeLessThan(1e-2);
    const a = await page.evaluate(() => (globalThis as unknown as { bouquetTest: { adapterInfo(): Promise<{ shaderF16: boolean }> } }).bouquetTest.adapterInfo());
    console.info(`WebGPU adapter shader-f16: ${String(a.shaderF16)}`);
    if (a.shaderF16) {
      const f32 = await runInPage({ ...base, precision: 'fp32', backend: 'wasm' });
      const f16 = await runInPage({ ...base, precision: 'fp16', backend: 'webgpu' });
      expect(maxAbsDiff(f16.decode, f32.decode)).toBeLessThan(5e-2);
      expect(maxAbsDiff(f16.logits, f32.logits)).toBeLessThan(1e-1);
    } else {
      await expect(runInPage({ ...base, precision: 'fp16', backend: 'webgpu' })).rejects.toThrow(/bad-input/);
    }
  }, 300_000);

  it('family features (sliding windows, soft-caps, q/k and sandwich norms, GeGLU, longrope): WebGPU = wasm', async () => {
    for (const shape of [tinyGemmaLike, tinyLongrope]) {
      for (const ops of ['contrib', 'standard'] as const) {
        const req: Omit<PageRun, 'backend'> = { model: { kind: 'synthetic', shape, seed: 3 }, ops, precision: 'fp32', ids: [1, 5, 9, 13, 17], numBlocks: shape.numBlocks };
        // Two threads asked for (a page's default is 1: tabs of one machine share its cores): multi-threaded wasm works there.
    const wasm = await runInPage({ ...req, backend: 'wasm', threads: 2 });
        const gpu = await runInPage({ ...req, backend: 'webgpu' });
        expect(gpu.backend).toBe('webgpu');
        expect(maxAbsDiff(gpu.prefill, wasm.prefill)).toBeLessThan(1e-3);
        expect(maxAbsDiff(gpu.decode, wasm.decode)).toBeLessThan(1e-3);
        expect(maxAbsDiff(gpu.logits, wasm.logits)).toBeLessThan(1e-2);
        expect(gpu.splitDiff).toBeLessThan(1e-4);
      }
    }
  }, 300_000);
});
