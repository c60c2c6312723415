// Runs a tiny family model through the in-thread runtime (whole or split over block ranges) against the independent reference.
import * as ort from 'onnxruntime-web';
import type { BlockSpan } from '../../../core/swarm/index.ts';
import { createInThreadRuntime, generateText, openTokenizer, type BlockRuntime, type OpFlavour } from '../../../worker/index.ts';
import { dequantizeQ4, quantizeQ4 } from '../../../worker/graph/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { referenceSession } from './reference-families.ts';
import type { TinyFamilyModel } from './tiny-families.ts';
import type { TinyTensor } from './tiny-model.ts';

/**
 * The tensors a q4 runtime computes with: every matrix of the blocks and the LM head rounded through 4-bit
 * blocks of its rows (the embedding lookup stays fp32, so a tied head becomes its own rounded copy).
 */
function q4Tensors(tensors: Record<string, TinyTensor>): Record<string, TinyTensor> {
  const round = (t: TinyTensor): TinyTensor => {
    const [n = 0, k = 0] = t.shape;
    return { ...t, data: dequantizeQ4(quantizeQ4(t.data, n, k)) };
  };
  const out: Record<string, TinyTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = t.shape.length === 2 && name !== 'model.embed_tokens.weight' ? round(t) : t;
  const head = tensors['lm_head.weight'] ?? tensors['model.embed_tokens.weight'];
  if (head !== undefined) out['lm_head.weight'] = round(head);
  return out;
}

/** Relative error max|a − b| / max|b| (the logits' scale, so near-zero logits do not blow it up). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    den = Math.max(den, Math.abs(b[i] ?? 0));
  }
  return num / den;
}

function top2(x: ArrayLike<number>): { best: number; margin: number } {
  let best = 0;
  for (let i = 1; i < x.length; i++) if ((x[i] ?? -Infinity) > (x[best] ?? -Infinity)) best = i;
  let second = -Infinity;
  for (let i = 0; i < x.length; i++) if (i !== best) second = Math.max(second, x[i] ?? -Infinity);
  return { best, margin: (x[best] ?? 0) - second };
}

/** What a comparison found. */
export interface FamilyCheck {
  /** Largest relative logit error over every token of every step. */
  maxRelError: number;
  /** Greedy steps compared (reference top-2 margin above the tolerance). */
  greedySteps: number;
  /** Steps where the runtime's argmax differed from the reference's although the margin was clear. */
  greedyMismatches: number;
  /** Tokens in the sequence at the end. */
  tokens: number;
}

export interface CheckOptions {
  ops: OpFlavour;
  /** Block ranges, one runtime each, in order; together [0, L). */
  spans: BlockSpan[];
  prompt: number[];
  /** Decoding plan after the prompt: 1 = one greedy token, n > 1 = the greedy token plus n − 1 fixed tokens in one step. */
  plan: number[];
  tolerance: number;
  /** Serve every span from one runtime (sessions over sub-ranges) instead of one runtime per span. */
  oneRuntime?: boolean;
  /** q4 weights (MatMulNBits); the reference then computes with the same rounded matrices. */
  q4?: boolean;
}

/**
 * Feeds the prompt and the plan's steps to both (teacher-forced by the reference's greedy token), comparing
 * the logits of every new token and the greedy choice where the reference's top-2 margin is clear.
 */
export async function checkFamily(model: TinyFamilyModel & { dir: string }, o: CheckOptions): Promise<FamilyCheck> {
  const w = await openModelWeights(folderModelFiles(model.dir));
  const s = w.shape;
  const common = { ops: o.ops, backends: ['wasm' as const], threads: 1, maxSessionTokens: 48, precision: o.q4 === true ? ('q4' as const) : ('fp32' as const) };
  const client = await createInThreadRuntime(ort, w, { ...common, client: true });
  const runtimes: BlockRuntime[] = [];
  if (o.oneRuntime === true) {
    // One volunteer serving every block, one session per span: its onnxruntime session is split lazily.
    const rt = await createInThreadRuntime(ort, w, { ...common, blocks: { start: 0, end: s.numBlocks }, cacheBudgetBytes: 1e8 });
    runtimes.push(...o.spans.map(() => rt));
  } else {
    for (const span of o.spans) runtimes.push(await createInThreadRuntime(ort, w, { ...common, blocks: span }));
  }
  for (const [i, rt] of runtimes.entries()) await rt.openSession({ sessionId: `f${i}`, blocks: o.spans[i] ?? { start: 0, end: 0 }, maxLength: 48 });
  const ref = referenceSession(model.config, o.q4 === true ? q4Tensors(model.tensors) : model.tensors);
  const out: FamilyCheck = { maxRelError: 0, greedySteps: 0, greedyMismatches: 0, tokens: 0 };
  const run = async (ids: number[]): Promise<number> => {
    let x = await client.embed(Int32Array.from(ids));
    for (const [i, rt] of runtimes.entries()) x = (await rt.step(`f${i}`, x)).hidden;
    const logits = await client.head(x);
    const expected = ref.step(ids);
    expected.forEach((e, t) => {
      out.maxRelError = Math.max(out.maxRelError, relativeError(logits.subarray(t * s.vocabSize, (t + 1) * s.vocabSize), e));
    });
    out.tokens += ids.length;
    const last = expected[expected.length - 1] ?? new Float64Array(0);
    const { best, margin } = top2(last);
    const scale = Math.max(...Array.from(last, Math.abs));
    if (margin > o.tolerance * scale) {
      out.greedySteps++;
      if (top2(logits.subarray((ids.length - 1) * s.vocabSize)).best !== best) out.greedyMismatches++;
    }
    return best;
  };
  let next = await run(o.prompt);
  for (const n of o.plan) {
    const ids = [next, ...Array.from({ length: n - 1 }, (_, i) => (next * 7 + i * 13 + 5) % s.vocabSize)];
    next = await run(ids);
  }
  for (const rt of new Set([client, ...runtimes])) await rt.dispose();
  return out;
}

/**
 * generateText (the user's path: tokenizer.json, prompt text, greedy sampling) against the reference's
 * greedy continuation of the same prompt ids. Returns the ids of both.
 */
export async function generateBoth(model: TinyFamilyModel & { dir: string }, prompt: string, maxTokens: number): Promise<{ runtime: number[]; reference: number[] }> {
  const files = folderModelFiles(model.dir);
  const w = await openModelWeights(files);
  const tok = await openTokenizer(files, w.shape);
  const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: w.shape.numBlocks }, client: true, backends: ['wasm'], threads: 1, maxSessionTokens: 48 });
  const res = await generateText(rt, tok, { prompt, maxTokens, sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 }, seed: 1 });
  await rt.dispose();
  const ref = referenceSession(model.config, model.tensors);
  const reference: number[] = [];
  let input = res.promptIds;
  while (reference.length < maxTokens) {
    const logits = ref.step(input);
    const next = top2(logits[logits.length - 1] ?? new Float64Array(0)).best;
    if (next === tok.bosId || tok.eosIds.includes(next)) break;
    reference.push(next);
    input = [next];
  }
  return { runtime: res.ids, reference };
}
