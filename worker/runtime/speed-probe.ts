// The speed probe a volunteer runs on joining: τ (decode ms per block per token) and τᴵ(l) (prefill ms per block) on random weights.
import type { ModelShape, WeightPrecision } from '../../core/model/index.ts';
import type { LinearMs } from '../../core/swarm/index.ts';
import { median } from '../../core/stats/index.ts';
import type { OpFlavour } from '../graph/index.ts';
import { syntheticWeights } from '../weights/index.ts';
import type { Ort } from './backend.ts';
import { createInThreadRuntime } from './in-thread.ts';
import type { BackendName } from './types.ts';

/** What the probe measured. */
export interface SpeedProbeResult {
  backend: BackendName;
  threads: number;
  /** τ: median decode time of one block for one token, ms. */
  decodeMsPerBlock: number;
  /** τᴵ(l) = perTokenMs · l + fixedMs: least-squares fit of the prefill samples, ms. */
  prefillMsPerBlock: LinearMs;
  /** Median prefill time per length, ms. */
  prefillSamples: { tokens: number; ms: number }[];
}

export interface SpeedProbeOptions {
  backends?: BackendName[];
  threads?: number;
  precision?: WeightPrecision;
  ops?: OpFlavour;
  /** Prefill lengths to time (default 16, 64, 128, capped by the model's max length). */
  prefillLengths?: number[];
  /** Decode steps timed (default 16). */
  decodeSteps?: number;
  /** Repeats per prefill length (median taken; default 3). */
  repeats?: number;
  /** Decode steps run before timing, for this long at least (default 1000 ms): V8 optimizes wasm only after many calls. */
  warmupMs?: number;
}

/** Least-squares line through (tokens, ms). */
export function fitLinearMs(samples: { tokens: number; ms: number }[]): LinearMs {
  const n = samples.length;
  if (n === 0) return { perTokenMs: 0, fixedMs: 0 };
  const mx = samples.reduce((a, s) => a + s.tokens, 0) / n;
  const my = samples.reduce((a, s) => a + s.ms, 0) / n;
  const sxx = samples.reduce((a, s) => a + (s.tokens - mx) ** 2, 0);
  const sxy = samples.reduce((a, s) => a + (s.tokens - mx) * (s.ms - my), 0);
  const perTokenMs = sxx === 0 ? my / Math.max(mx, 1) : sxy / sxx;
  return { perTokenMs, fixedMs: Math.max(0, my - perTokenMs * mx) };
}

/** Times one block of `shape` (random weights) on the chosen backend. */
export async function probeSpeed(ort: Ort, shape: ModelShape, opts: SpeedProbeOptions = {}): Promise<SpeedProbeResult> {
  const decodeSteps = opts.decodeSteps ?? 16;
  const lengths = (opts.prefillLengths ?? [16, 64, 128]).filter((l) => l + decodeSteps + 8 <= shape.maxSeqLen);
  const maxTokens = Math.min(shape.maxSeqLen, Math.max(...lengths, 8) + decodeSteps + 8);
  const rt = await createInThreadRuntime(ort, syntheticWeights({ ...shape, numBlocks: 1 }, 7), {
    blocks: { start: 0, end: 1 },
    precision: opts.precision ?? 'fp32',
    ops: opts.ops ?? 'contrib',
    maxSessionTokens: maxTokens,
    cacheBudgetBytes: Number.MAX_SAFE_INTEGER,
    backends: opts.backends ?? ['webgpu', 'wasm'],
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
  });
  try {
    const info = await rt.info();
    const d = shape.hiddenSize;
    const rows = (t: number): Float32Array => Float32Array.from({ length: t * d }, (_, i) => Math.sin(i * 0.37));
    let id = 0;
    const run = async (t: number): Promise<number> => {
      const sid = `probe-${id++}`;
      await rt.openSession({ sessionId: sid, blocks: { start: 0, end: 1 }, maxLength: maxTokens });
      const r = await rt.step(sid, rows(t));
      await rt.closeSession(sid);
      return r.computeMs;
    };
    // Warm-up: first runs allocate and prepack, and V8 tiers wasm up only after dozens of calls.
    await rt.openSession({ sessionId: 'probe-warm', blocks: { start: 0, end: 1 }, maxLength: maxTokens });
    await rt.step('probe-warm', rows(8));
    const w0 = performance.now();
    for (let i = 0; i < maxTokens - 8 && (i < 8 || performance.now() - w0 < (opts.warmupMs ?? 1000)); i++) await rt.step('probe-warm', rows(1));
    await rt.closeSession('probe-warm');
    const prefillSamples: { tokens: number; ms: number }[] = [];
    for (const l of lengths) {
      const times: number[] = [];
      for (let r = 0; r < (opts.repeats ?? 3); r++) times.push(await run(l));
      prefillSamples.push({ tokens: l, ms: median(times) });
    }
    await rt.openSession({ sessionId: 'probe-decode', blocks: { start: 0, end: 1 }, maxLength: maxTokens });
    await rt.step('probe-decode', rows(8));
    const decode: number[] = [];
    for (let i = 0; i < decodeSteps; i++) decode.push((await rt.step('probe-decode', rows(1))).computeMs);
    return { backend: info.backend, threads: info.threads, decodeMsPerBlock: median(decode), prefillMsPerBlock: fitLinearMs(prefillSamples), prefillSamples };
  } finally {
    await rt.dispose();
  }
}
