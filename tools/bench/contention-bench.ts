// `npm run bench:contention`: step time of our block runtime (in-thread onnxruntime-web wasm in Node) serving k = 1, 2, 4, 8 sessions at once, interleaved as a volunteer does today (one step per session at a time, no batching), fitted as stepMs(k) = a + b·k per block.
// Run: npm run bench:contention [-- --rounds N] [--threads T] [--json]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import type { ModelShape } from '../../core/model/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { createInThreadRuntime, openModelWeights, syntheticWeights, type ModelWeights } from '../../worker/index.ts';
import { folderModelFiles } from '../../server/index.ts';

/** A small synthetic Llama block (hidden 1024, 16 query / 4 KV heads of 64, FFN 2816): big enough that compute, not call overhead, dominates. */
const synthetic1024: ModelShape = {
  family: 'llama', numBlocks: 4, hiddenSize: 1024, numHeads: 16, numKvHeads: 4, headDim: 64, ffnSize: 2816, vocabSize: 32000,
  maxSeqLen: 1024, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'rotate-half', tiedEmbeddings: false, attentionBias: false,
};

/** Concurrent session counts measured. */
const ks = [1, 2, 4, 8];
/** Prompt each session prefills before decoding, tokens. */
const promptTokens = 32;

/** One k of one model: per-session time per decoded token, and the runtime's own compute time per step. */
interface ContentionRow {
  model: string;
  blocks: number;
  sessions: number;
  /** Wall time of one round (every session decodes one token), ms, median over rounds: what each session waits per token. */
  perSessionStepMs: number;
  /** The same per block, ms. */
  perSessionStepMsPerBlock: number;
  /** Median onnxruntime compute of a single step, ms (the work itself; the rest of a round is the other sessions' steps). */
  computeMsPerStep: number;
}

/** Least-squares line y = a + b·x. */
export function fitLine(xs: readonly number[], ys: readonly number[]): { a: number; b: number; r2: number } {
  const n = xs.length;
  if (n < 2 || ys.length !== n) throw new BouquetError('bad-argument', 'a line needs at least two points');
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    const dy = (ys[i] ?? 0) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const b = sxx > 0 ? sxy / sxx : 0;
  return { a: my - b * mx, b, r2: syy > 0 ? (sxy * sxy) / (sxx * syy) : 1 };
}

/** Median of a sample (robust to the preemptions of a shared machine). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

async function measureModel(name: string, weights: ModelWeights, blocks: number, rounds: number, threads: number, warmSteps: number): Promise<ContentionRow[]> {
  const warmChunk = Math.min(300, weights.shape.maxSeqLen - 16);
  const maxLength = Math.min(weights.shape.maxSeqLen, Math.max(promptTokens + rounds + 8, warmChunk + 8));
  const rt = await createInThreadRuntime(ort, weights, {
    blocks: { start: 0, end: blocks }, precision: 'fp32', backends: ['wasm'], threads, maxSessionTokens: maxLength, cacheBudgetBytes: Number.MAX_SAFE_INTEGER,
  });
  const d = weights.shape.hiddenSize;
  const rows = (t: number, phase: number): Float32Array => Float32Array.from({ length: t * d }, (_, i) => Math.sin(i * 0.37 + phase) * 0.5);
  const wall = new Map<number, number[]>();
  const compute = new Map<number, number[]>();
  try {
    // Warm-up: V8 tiers wasm up from Liftoff to TurboFan only after many calls (stories260K: ~10 ms
    // per step for the first ~100 steps, ~2.5 ms after 200; see bench:runtime), so a fixed number of steps.
    for (let done = 0, n = 0; done < warmSteps; n++) {
      const id = `warm-${n}`;
      await rt.openSession({ sessionId: id, blocks: { start: 0, end: blocks }, maxLength });
      await rt.step(id, rows(8, 0));
      for (let i = 0; i < warmChunk && done < warmSteps; i++, done++) await rt.step(id, rows(1, i));
      await rt.closeSession(id);
    }
    // Two passes, k ascending then descending, so a drift in machine load does not read as a trend in k.
    for (const k of [...ks, ...[...ks].reverse()]) {
      const ids = Array.from({ length: k }, (_, i) => `k${k}-s${i}-${wall.get(k)?.length ?? 0}`);
      for (const [i, id] of ids.entries()) {
        await rt.openSession({ sessionId: id, blocks: { start: 0, end: blocks }, maxLength });
        await rt.step(id, rows(promptTokens, i));
      }
      for (let r = 0; r < rounds; r++) {
        // Every session asks for its next token at once; the runtime runs them one at a time (its exclusive queue).
        const t0 = performance.now();
        const results = await Promise.all(ids.map((id, i) => rt.step(id, rows(1, r + i))));
        const w = wall.get(k) ?? [];
        w.push(performance.now() - t0);
        wall.set(k, w);
        const c = compute.get(k) ?? [];
        for (const res of results) c.push(res.computeMs);
        compute.set(k, c);
      }
      for (const id of ids) await rt.closeSession(id);
    }
  } finally {
    await rt.dispose();
  }
  return ks.map((k) => {
    const perSession = median(wall.get(k) ?? []);
    return { model: name, blocks, sessions: k, perSessionStepMs: perSession, perSessionStepMsPerBlock: perSession / blocks, computeMsPerStep: median(compute.get(k) ?? []) };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const rounds = values.rounds === undefined ? 40 : Number(values.rounds);
  const threads = values.threads === undefined ? 1 : Number(values.threads);
  if (!Number.isInteger(rounds) || rounds < 2) throw new BouquetError('bad-argument', '--rounds must be an integer ≥ 2');
  if (!Number.isInteger(threads) || threads < 1) throw new BouquetError('bad-argument', '--threads must be an integer ≥ 1');
  const load0 = loadavg()[0] ?? 0;
  const stories = await openModelWeights(folderModelFiles('../shared/models/stories260K'));
  const rows = [
    ...(await measureModel('stories260K', stories, stories.shape.numBlocks, rounds, threads, 600)),
    ...(await measureModel('synthetic 1024-wide Llama block (random)', syntheticWeights(synthetic1024, 1), 2, Math.max(2, Math.floor(rounds / 2)), threads, 60)),
  ];
  const load1 = loadavg()[0] ?? 0;
  const fits = [...new Set(rows.map((r) => r.model))].map((model) => {
    const rs = rows.filter((r) => r.model === model);
    const f = fitLine(rs.map((r) => r.sessions), rs.map((r) => r.perSessionStepMsPerBlock));
    const c = fitLine(rs.map((r) => r.sessions), rs.map((r) => r.computeMsPerStep / (rs[0]?.blocks ?? 1)));
    return { model, blocks: rs[0]?.blocks ?? 0, aMsPerBlock: f.a, bMsPerBlock: f.b, r2: f.r2, computeAMsPerBlock: c.a, computeBMsPerBlock: c.b };
  });
  if (values.json === true) {
    console.log(JSON.stringify({ node: process.version, cpus: cpus().length, threads, rounds, loadavg: [load0, load1], rows, fits }, null, 2));
    return;
  }
  console.log(`Contention benchmark — onnxruntime-web ${ort.env.versions.web ?? '?'} wasm in Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${threads} thread(s), ${rounds} rounds`);
  console.log(`load average (1 min) before/after: ${load0.toFixed(1)} / ${load1.toFixed(1)} (a shared machine inflates every figure)`);
  console.log('');
  console.log('| model | blocks | sessions k | per-session ms per token | per block | compute ms per step |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.model} | ${r.blocks} | ${r.sessions} | ${r.perSessionStepMs.toFixed(2)} | ${r.perSessionStepMsPerBlock.toFixed(3)} | ${r.computeMsPerStep.toFixed(3)} |`);
  console.log('');
  for (const f of fits) {
    console.log(`${f.model}: stepMs(k) per block = ${f.aMsPerBlock.toFixed(3)} + ${f.bMsPerBlock.toFixed(3)}·k (R² ${f.r2.toFixed(3)}); one step's own compute per block = ${f.computeAMsPerBlock.toFixed(3)} + ${f.computeBMsPerBlock.toFixed(4)}·k`);
  }
}

await main();
