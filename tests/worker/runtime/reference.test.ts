// The ONNX block graphs against a plain TypeScript forward pass: tiny HF Llama (rotate-half, GQA), llama2.c (interleaved), q4.
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInThreadRuntime, type BlockRuntime } from '../../../worker/index.ts';
import { dequantizeQ4, quantizeQ4 } from '../../../worker/graph/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights, type BlockWeights, type ModelWeights } from '../../../worker/weights/index.ts';
import { maxAbsDiff, referenceBlocks, referenceHead } from '../support/reference-llama.ts';
import { writeTinyModel } from '../support/tiny-model.ts';

async function allBlocks(w: ModelWeights): Promise<BlockWeights[]> {
  const out = [];
  for (let b = 0; b < w.shape.numBlocks; b++) out.push(await w.block(b));
  return out;
}

/** Embeds ids, runs a prefill of all but the last, then one decode step; checks hidden states and logits against the reference. */
async function checkAgainstReference(rt: BlockRuntime, w: ModelWeights, ids: number[], ref: BlockWeights[], tol: number): Promise<void> {
  const s = w.shape;
  const d = s.hiddenSize;
  const emb = await w.embedding();
  const x = new Float32Array(ids.length * d);
  ids.forEach((id, t) => x.set(emb.subarray(id * d, (id + 1) * d), t * d));
  const expected = referenceBlocks(s, ref, x);
  const embedded = await rt.embed(Int32Array.from(ids));
  expect(maxAbsDiff(embedded, x)).toBe(0);
  await rt.openSession({ sessionId: 'ref', blocks: { start: 0, end: s.numBlocks }, maxLength: 32 });
  const P = ids.length - 1;
  const pre = await rt.step('ref', x.slice(0, P * d));
  expect(pre.tokens).toBe(P);
  expect(maxAbsDiff(pre.hidden, expected.subarray(0, P * d))).toBeLessThan(tol);
  const dec = await rt.step('ref', x.slice(P * d));
  expect(dec.length).toBe(ids.length);
  const lastRow = expected.subarray(P * d);
  expect(maxAbsDiff(dec.hidden, lastRow)).toBeLessThan(tol);
  const logits = await rt.head(dec.hidden);
  const refLogits = referenceHead(s, await w.finalNorm(), await w.lmHead(), lastRow);
  expect(maxAbsDiff(logits, refLogits)).toBeLessThan(tol * 10);
  await rt.closeSession('ref');
}

describe('block graphs match a TypeScript reference forward pass', () => {
  let tinyDir = '';
  beforeAll(async () => {
    tinyDir = await writeTinyModel();
  });

  for (const ops of ['contrib', 'standard'] as const) {
    it(`tiny HF Llama (rotate-half, GQA 4/2 heads, head 16), ${ops} ops`, async () => {
      const w = await openModelWeights(folderModelFiles(tinyDir));
      expect(w.shape.ropeStyle).toBe('rotate-half');
      const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 3 }, client: true, ops, backends: ['wasm'], threads: 1, maxSessionTokens: 64 });
      await checkAgainstReference(rt, w, [1, 5, 9, 13, 17, 21, 40], await allBlocks(w), 1e-4);
      await rt.dispose();
    });

    it(`stories260K llama2.c checkpoint (interleaved rotary, real weights), ${ops} ops`, async () => {
      const w = await openModelWeights(folderModelFiles('../shared/models/stories260K'));
      expect(w.shape.ropeStyle).toBe('interleaved');
      const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, client: true, ops, backends: ['wasm'], threads: 1, maxSessionTokens: 64 });
      await checkAgainstReference(rt, w, [1, 403, 407, 261, 378, 432], await allBlocks(w), 1e-4);
      await rt.dispose();
    });
  }

  it('q4 weights (MatMulNBits) compute the dequantized model', async () => {
    const w = await openModelWeights(folderModelFiles(tinyDir));
    const s = w.shape;
    const deq = (m: Float32Array, n: number, k: number): Float32Array => dequantizeQ4(quantizeQ4(m, n, k));
    const ref = (await allBlocks(w)).map((b) => ({
      ...b,
      wq: deq(b.wq, s.numHeads * s.headDim, s.hiddenSize),
      wk: deq(b.wk, s.numKvHeads * s.headDim, s.hiddenSize),
      wv: deq(b.wv, s.numKvHeads * s.headDim, s.hiddenSize),
      wo: deq(b.wo, s.hiddenSize, s.numHeads * s.headDim),
      wGate: deq(b.wGate, s.ffnSize, s.hiddenSize),
      wUp: deq(b.wUp, s.ffnSize, s.hiddenSize),
      wDown: deq(b.wDown, s.hiddenSize, s.ffnSize),
    }));
    const head = deq(await w.lmHead(), s.vocabSize, s.hiddenSize);
    const wq: ModelWeights = { ...w, shape: s, block: w.block.bind(w), embedding: w.embedding.bind(w), finalNorm: w.finalNorm.bind(w), lmHead: () => Promise.resolve(head) };
    const rt = await createInThreadRuntime(ort, wq, { blocks: { start: 0, end: 3 }, client: true, precision: 'q4', backends: ['wasm'], threads: 1, maxSessionTokens: 64 });
    const info = await rt.info();
    expect(info.weightBytes).toBeLessThan(3 * 4 * (4 * 64 * 64 + 3 * 64 * 96) / 6);
    await checkAgainstReference(rt, wq, [1, 7, 3, 30, 2], ref, 1e-3);
    await rt.dispose();
  });

  it('reads F16 and BF16 safetensors as the same model (values rounded to the source precision)', async () => {
    const f32 = await openModelWeights(folderModelFiles(tinyDir));
    for (const dtype of ['F16', 'BF16'] as const) {
      const w = await openModelWeights(folderModelFiles(await writeTinyModel({ dtype })));
      const a = await f32.block(1);
      const b = await w.block(1);
      const rel = dtype === 'F16' ? 1e-3 : 8e-3;
      expect(maxAbsDiff(a.wq, b.wq)).toBeLessThan(rel);
      expect(maxAbsDiff(a.wq, b.wq)).toBeGreaterThan(0);
    }
  });

  afterAll(() => undefined);
});
