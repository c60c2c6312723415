// `npm run bench:load-memory`: what loading a span costs in memory, and what that buys in speed. Each variant (weights as
// external data or inside the protobuf; MatMul prepacking on or off) loads 2 blocks of a 12.8M-parameter-per-block
// synthetic model in a fresh Node process (onnxruntime-web wasm, 1 thread); variants are interleaved, so load noise hits all.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import type { ModelShape } from '../../../core/model/index.ts';
import { createInThreadRuntime, syntheticWeights } from '../../../worker/index.ts';

const MiB = 2 ** 20;
const shape: ModelShape = {
  family: 'llama2c', numBlocks: 4, hiddenSize: 1024, numHeads: 16, numKvHeads: 16, headDim: 64, ffnSize: 2816, vocabSize: 512, maxSeqLen: 512,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved', tiedEmbeddings: true, attentionBias: false, bosTokenId: 1, eosTokenId: 2,
};
const variants = [
  { name: 'external + prepack (default)', externalWeights: true, prepackWeights: true },
  { name: 'external + prepack, 1 block/session', externalWeights: true, prepackWeights: true, maxSegmentBytes: 1 },
  { name: 'inline + prepack (before)', externalWeights: false, prepackWeights: true },
  { name: 'external, no prepack', externalWeights: true, prepackWeights: false },
  { name: 'inline, no prepack', externalWeights: false, prepackWeights: false },
] as const satisfies readonly { name: string; externalWeights: boolean; prepackWeights: boolean; maxSegmentBytes?: number }[];

interface Row { loadPeakMiB: number; afterLoadMiB: number; decodeMs: number; weightMiB: number }

/** One variant in this process: RSS is per process, so the parent runs each in its own. */
async function child(index: number, steps: number): Promise<Row> {
  const v = variants[index];
  if (v === undefined) throw new Error(`no variant ${index}`);
  const startBytes = process.memoryUsage().rss;
  const rt = await createInThreadRuntime(ort, syntheticWeights(shape), {
    blocks: { start: 0, end: 2 }, backends: ['wasm'], threads: 1, maxSessionTokens: 512, externalWeights: v.externalWeights, prepackWeights: v.prepackWeights, ...('maxSegmentBytes' in v ? { maxSegmentBytes: v.maxSegmentBytes } : {}),
  });
  const loadPeakMiB = (process.resourceUsage().maxRSS * 1024 - startBytes) / MiB;
  const afterLoadMiB = (process.memoryUsage().rss - startBytes) / MiB;
  await rt.openSession({ sessionId: 's', blocks: { start: 0, end: 2 }, maxLength: steps + 8 });
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await rt.step('s', new Float32Array(shape.hiddenSize).fill(0.1));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const weightMiB = (await rt.info()).weightBytes / MiB;
  await rt.dispose();
  return { loadPeakMiB, afterLoadMiB, decodeMs: times[times.length >> 1] ?? NaN, weightMiB };
}

const { values } = parseArgs({ options: { child: { type: 'string' }, repeats: { type: 'string', default: '3' }, steps: { type: 'string', default: '40' } } });
const steps = Number(values.steps);
if (values.child !== undefined) {
  console.log(JSON.stringify(await child(Number(values.child), steps)));
} else {
  const repeats = Number(values.repeats);
  const rows = variants.map(() => [] as Row[]);
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < variants.length; i++) {
      const out = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', String(i), '--steps', String(steps)], { encoding: 'utf8', timeout: 300_000 });
      const line = out.stdout.trim().split('\n').pop() ?? '';
      if (out.status !== 0 || !line.startsWith('{')) throw new Error(`variant ${i} failed: ${out.stderr.slice(-500)}`);
      rows[i]?.push(JSON.parse(line) as Row);
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
  const base = rows[2] ?? [];
  console.log(`load memory: 2 blocks, ${(rows[0]?.[0]?.weightMiB ?? NaN).toFixed(0)} MiB of fp32 weights, median of ${repeats} interleaved runs, ${steps} decode steps`);
  console.log('variant                             load peak MiB  after load MiB  decode ms  peak vs before  decode vs before');
  for (let i = 0; i < variants.length; i++) {
    const rs = rows[i] ?? [];
    const peak = med(rs.map((x) => x.loadPeakMiB));
    const dec = med(rs.map((x) => x.decodeMs));
    console.log(`${(variants[i]?.name ?? '').padEnd(36)}${peak.toFixed(0).padStart(13)}${med(rs.map((x) => x.afterLoadMiB)).toFixed(0).padStart(16)}${dec.toFixed(1).padStart(11)}${(peak / med(base.map((x) => x.loadPeakMiB))).toFixed(2).padStart(16)}${(dec / med(base.map((x) => x.decodeMs))).toFixed(2).padStart(18)}`);
  }
}
