// `npm run bench:runtime`: decode ms/block of the block runtime on onnxruntime-web wasm in Node for Llama-3.2-1B and
// Llama-3-8B shaped blocks in fp32/q8/q4, llama2.c's run.c on the same weights as the native reference, q8/q4 accuracy
// against fp32 on stories260K, the thread probe, stories260K end to end, and (unless --no-browser) headless Chromium.
// Each measurement runs in its own process: ort.env.wasm.numThreads is fixed once a process starts, and one block at
// a time keeps memory in check (an 8B-shaped block is ~0.9 GB in fp32).
import { BouquetError } from '../../../core/errors/index.ts';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import type { ModelShape, WeightPrecision } from '../../../core/model/index.ts';
import { blockBytes } from '../../../core/model/index.ts';
import { createInThreadRuntime, generateText, measureQuantAccuracy, type QuantAccuracy, openModelWeights, syntheticWeights, openTokenizer, type ModelWeights } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/index.ts';
import { fastestWasmThreads } from '../../cli/wasm-threads.ts';
import { browserRows, type RuntimeBenchRow } from './browser-rows.ts';
import { nativeMsPerBlock, runCSource } from './native-reference.ts';
import { aggregateProfile, profileBlockOps, profileSteps, type OpProfile } from './op-profile.ts';
import { benchShapes } from './shapes.ts';

/** Longest warm-up session, tokens. */
const warmTokens = 320;
const seed = 1;

interface Row extends RuntimeBenchRow {
  decodeMsPerBlock: number;
  /** Process CPU time (user + system, all threads) per decode step and block, ms: robust to other processes on a shared machine. */
  decodeCpuMsPerBlock: number;
  /** Weight bytes the runtime holds for these blocks. */
  weightBytes: number;
  endToEndTokPerS?: number;
  loadS: number;
}

async function measure(name: string, weights: ModelWeights, blocks: number, precision: WeightPrecision, threads: number, prefillTokens: number, decodeSteps: number, warmMs: number): Promise<Row> {
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
  for (let i = 0; i < warmTokens - 8 && (i < 4 || performance.now() - w0 < warmMs); i++) await rt.step('warm', rows(1));
  await rt.closeSession('warm');
  await rt.openSession({ sessionId: 'b', blocks: { start: 0, end: blocks }, maxLength: prefillTokens + decodeSteps + 8 });
  const pre = await rt.step('b', rows(prefillTokens));
  let decodeMs = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < decodeSteps; i++) decodeMs += (await rt.step('b', rows(1))).computeMs;
  const cpu = process.cpuUsage(cpu0);
  const weightBytes = (await rt.info()).weightBytes;
  await rt.dispose();
  return {
    model: name, blocks, precision, threads, prefillTokens, loadS, weightBytes,
    prefillTokPerS: (1000 * prefillTokens) / pre.computeMs,
    decodeTokPerS: (1000 * decodeSteps) / decodeMs,
    decodeMsPerBlock: decodeMs / decodeSteps / blocks,
    decodeCpuMsPerBlock: (cpu.user + cpu.system) / 1000 / decodeSteps / blocks,
  };
}

type ChildJob = { kind: 'stories'; threads: number } | { kind: 'block'; shape: string; precision: WeightPrecision; threads: number } | { kind: 'accuracy' } | { kind: 'profile'; shape: string; precision: WeightPrecision };

async function child(job: ChildJob): Promise<unknown> {
  switch (job.kind) {
    case 'stories': {
      const files = folderModelFiles('../shared/models/stories260K');
      const w = await openModelWeights(files);
      const row = await measure('stories260K', w, w.shape.numBlocks, 'fp32', job.threads, 128, 64, 2000);
      // End to end: embed + 5 blocks + head + sampling, greedy, as `bouquet generate` does.
      const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, client: true, backends: ['wasm'], threads: job.threads, maxSessionTokens: 512, cacheBudgetBytes: Number.MAX_SAFE_INTEGER });
      const g = await generateText(rt, await openTokenizer(files, w.shape), '', { maxNewTokens: 200 });
      row.endToEndTokPerS = g.tokensPerSecond;
      await rt.dispose();
      return [row];
    }
    case 'block': {
      const shape = benchShapes[job.shape];
      if (shape === undefined) throw new BouquetError('bad-argument', `unknown shape ${job.shape} (one of ${Object.keys(benchShapes).join(', ')})`);
      const big = shape.hiddenSize > 2048;
      return [await measure(job.shape, syntheticWeights(shape, seed), 1, job.precision, job.threads, big ? 16 : 32, big ? 4 : 8, big ? 3000 : 2000)];
    }
    case 'accuracy': {
      const w = await openModelWeights(folderModelFiles('../shared/models/stories260K'));
      return measureQuantAccuracy(ort, w, ['q8', 'q4'], 16, 64);
    }
    case 'profile': {
      const shape = benchShapes[job.shape];
      if (shape === undefined) throw new BouquetError('bad-argument', `unknown shape ${job.shape} (one of ${Object.keys(benchShapes).join(', ')})`);
      await profileBlockOps(shape, job.precision, 1);
      return null;
    }
    default: {
      const never: never = job;
      throw new BouquetError('internal', `unknown job ${JSON.stringify(never)}`);
    }
  }
}

/** Marks the child's result on its stdout (onnxruntime's profiler prints there too). */
const resultMark = '\n@@bench-result@@';

/** A child that hangs (seen once on a machine at load 25) must not take the other figures with it. */
const childTimeoutMs = 20 * 60_000;

function runChildText(self: string, job: ChildJob): { result: unknown; text: string } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(job)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, timeout: childTimeoutMs });
  const at = out.lastIndexOf(resultMark);
  if (at < 0) throw new BouquetError('internal', `bench child ${JSON.stringify(job)} gave no result`);
  return { result: JSON.parse(out.slice(at + resultMark.length)), text: out.slice(0, at) };
}

function runChild<T>(self: string, job: ChildJob): T {
  return runChildText(self, job).result as T;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' }, 'no-browser': { type: 'boolean' }, 'run-c': { type: 'string' }, threads: { type: 'string' },
      shapes: { type: 'string' }, precisions: { type: 'string' }, quick: { type: 'boolean' },
    },
  });
  if (values.child !== undefined) {
    const result = await child(JSON.parse(values.child) as ChildJob);
    process.stdout.write(`${resultMark}${JSON.stringify(result)}`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const threadCounts = (values.threads ?? '1').split(',').map(Number);
  const shapeNames = (values.shapes ?? Object.keys(benchShapes).join(',')).split(',');
  const precisions = (values.precisions ?? 'fp32,q8,q4').split(',') as WeightPrecision[];
  const load0 = loadavg()[0] ?? 0;
  const blockRows: Row[] = [];
  for (const shape of shapeNames) for (const threads of threadCounts) for (const precision of precisions) {
    console.error(`[bench] ${shape} ${precision} ${threads} thread(s)…`);
    const got = runChild<Row[]>(self, { kind: 'block', shape, precision, threads });
    console.error(`[bench]   ${JSON.stringify(got)}`); // kept in the log even if a later step fails
    blockRows.push(...got);
  }
  const native: { shape: string; result: Awaited<ReturnType<typeof nativeMsPerBlock>> }[] = [];
  const src = await runCSource(values['run-c']);
  for (const shape of shapeNames) {
    const s = benchShapes[shape] as ModelShape;
    console.error(`[bench] run.c ${shape}…`);
    native.push({ shape, result: 'source' in src ? await nativeMsPerBlock(src.source, s, seed) : src });
    console.error(`[bench]   ${JSON.stringify(native[native.length - 1])}`);
  }
  const profiles: { precision: WeightPrecision; ops: OpProfile }[] = [];
  for (const precision of precisions) {
    console.error(`[bench] operator profile, ${shapeNames[0] ?? ''} ${precision}…`);
    try {
      profiles.push({ precision, ops: aggregateProfile(runChildText(self, { kind: 'profile', shape: shapeNames[0] ?? 'Llama-3.2-1B', precision }).text, profileSteps) });
    } catch (e) {
      console.error(`[bench]   profile failed: ${e instanceof Error ? e.message.slice(0, 200) : String(e)}`);
    }
  }
  const stories = values.quick === true ? [] : threadCounts.flatMap((threads) => runChild<Row[]>(self, { kind: 'stories', threads }));
  const accuracy = values.quick === true ? [] : runChild<QuantAccuracy[]>(self, { kind: 'accuracy' });
  const probe = await fastestWasmThreads();
  const browser = values['no-browser'] === true || values.quick === true ? [] : await browserRows();
  const load1 = loadavg()[0] ?? 0;

  console.log(`Block runtime benchmark — onnxruntime-web ${ort.env.versions.web ?? '?'} wasm in Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
  console.log(`load average (1 min) before/after: ${load0.toFixed(1)} / ${load1.toFixed(1)} (a shared machine: compare ratios within this run, CPU ms above all)`);
  console.log('');
  console.log('Decode, one block of synthetic weights, 1-token steps after a prefill (ms per block per token):');
  console.log('');
  console.log('| block shape | weights | threads | weight MiB (held) | decode ms/block | decode CPU ms/block | CPU vs fp32 | prefill tok/s (T) | load s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of blockRows) {
    const fp32 = blockRows.find((x) => x.model === r.model && x.threads === r.threads && x.precision === 'fp32');
    const ratio = fp32 === undefined ? '–' : `${(r.decodeCpuMsPerBlock / fp32.decodeCpuMsPerBlock).toFixed(2)}×`;
    console.log(`| ${r.model} | ${r.precision} | ${r.threads} | ${mib(r.weightBytes)} | ${r.decodeMsPerBlock.toFixed(1)} | ${r.decodeCpuMsPerBlock.toFixed(1)} | ${ratio} | ${r.prefillTokPerS.toFixed(1)} (${r.prefillTokens}) | ${r.loadS.toFixed(1)} |`);
  }
  for (const n of native) {
    const s = benchShapes[n.shape] as ModelShape;
    if ('missing' in n.result) {
      console.log(`| ${n.shape} | run.c fp32 | 1 | ${mib(blockBytes(s, 'fp32'))} | not run: ${n.result.missing} | | | | |`);
    } else {
      const fp32 = blockRows.find((x) => x.model === n.shape && x.threads === 1 && x.precision === 'fp32');
      const vs = fp32 === undefined ? '' : ` (wasm fp32 = ${(n.result.msPerBlock / fp32.decodeMsPerBlock).toFixed(2)}× run.c's speed)`;
      console.log(`| ${n.shape} | run.c fp32, native (${n.result.compiler})${vs} | 1 | ${mib(blockBytes(s, 'fp32'))} | ${n.result.msPerBlock.toFixed(1)} | | | | |`);
    }
  }
  if (profiles.length > 0) {
    const opNames = [...new Set(profiles.flatMap((p) => Object.keys(p.ops)))].sort((a, b) => (profiles[0]?.ops[b] ?? 0) - (profiles[0]?.ops[a] ?? 0));
    console.log('');
    console.log(`onnxruntime profiler (enableProfiling), ${shapeNames[0] ?? ''} block, 1 thread, decode at 32 cached positions: kernel µs per step by operator`);
    console.log('');
    console.log(`| operator | ${profiles.map((p) => p.precision).join(' | ')} |`);
    console.log(`|---|${profiles.map(() => '---|').join('')}`);
    for (const op of opNames) console.log(`| ${op} | ${profiles.map((p) => (p.ops[op] === undefined ? '–' : p.ops[op].toFixed(0))).join(' | ')} |`);
    console.log(`| total | ${profiles.map((p) => Object.values(p.ops).reduce((a, b) => a + b, 0).toFixed(0)).join(' | ')} |`);
  }
  if (accuracy.length > 0) {
    console.log('');
    console.log('Accuracy against fp32, stories260K (all blocks and the head quantized), 16 model-sampled contexts × 64 positions:');
    console.log('');
    console.log('| weights | positions | top-1 agreement | mean max |Δlogit| | max |Δlogit| | mean logit std |');
    console.log('|---|---|---|---|---|---|');
    for (const a of accuracy) console.log(`| ${a.precision} | ${a.positions} | ${(a.top1Agreement * 100).toFixed(1)} % | ${a.meanMaxLogitError.toFixed(3)} | ${a.maxLogitError.toFixed(3)} | ${a.meanLogitStd.toFixed(3)} |`);
  }
  console.log('');
  console.log(`Thread probe (bouquet generate's default): ${Object.entries(probe.msPerRun).map(([t, ms]) => `${t} thread(s) ${ms.toFixed(2)} ms`).join(', ')} per 2048×2048 MatMul → ${probe.threads}`);
  if (stories.length > 0) {
    console.log('');
    console.log('| model | blocks | weights | threads | prefill tok/s (T) | decode tok/s | decode ms/block | generate tok/s (end to end) | load s |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of stories) console.log(`| ${r.model} | ${r.blocks} | ${r.precision} | ${r.threads} | ${r.prefillTokPerS.toFixed(1)} (${r.prefillTokens}) | ${r.decodeTokPerS.toFixed(1)} | ${r.decodeMsPerBlock.toFixed(2)} | ${r.endToEndTokPerS?.toFixed(1) ?? '–'} | ${r.loadS.toFixed(1)} |`);
  }
  if (browser.length > 0) {
    console.log('');
    console.log(`Headless Chromium, module worker + Comlink, cross-origin isolated page:`);
    console.log('');
    console.log('| model | blocks | backend | threads | prefill tok/s (T) | decode tok/s | decode wall ms/step (with Comlink) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of browser) console.log(`| ${r.model} | ${r.blocks} | ${r.backend} | ${r.threads} | ${r.prefillTokPerS.toFixed(1)} (${r.prefillTokens}) | ${r.decodeTokPerS.toFixed(1)} | ${r.decodeWallMs.toFixed(2)} |`);
  }
}

await main();
