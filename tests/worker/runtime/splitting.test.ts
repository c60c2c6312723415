// Splitting invariance: blocks [0,5) in one session equal [0,2) then [2,5) in two sessions (prefill and decode).
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { blockBytes } from '../../../core/model/index.ts';
import { createInThreadRuntime, syntheticWeights, type BlockRuntime, type ModelWeights } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { maxAbsDiff } from '../support/reference-llama.ts';

function rows(t: number, d: number, seed: number): Float32Array {
  return Float32Array.from({ length: t * d }, (_, i) => Math.sin(i * 0.71 + seed) * 0.8);
}

/** Runs the same inputs through one session [0,L) and through sessions [0,k) + [k,L); returns the largest difference. */
async function splitDiff(whole: BlockRuntime, first: BlockRuntime, second: BlockRuntime, L: number, k: number, d: number): Promise<number> {
  await whole.openSession({ sessionId: 'w', blocks: { start: 0, end: L }, maxLength: 40 });
  await first.openSession({ sessionId: 'a', blocks: { start: 0, end: k }, maxLength: 40 });
  await second.openSession({ sessionId: 'b', blocks: { start: k, end: L }, maxLength: 40 });
  let worst = 0;
  const inputs = [rows(7, d, 1), rows(1, d, 2), rows(1, d, 3), rows(3, d, 4), rows(1, d, 5)];
  for (const x of inputs) {
    const w = await whole.step('w', x.slice());
    const a = await first.step('a', x.slice());
    const b = await second.step('b', a.hidden);
    expect(b.length).toBe(w.length);
    worst = Math.max(worst, maxAbsDiff(w.hidden, b.hidden));
  }
  for (const [rt, id] of [[whole, 'w'], [first, 'a'], [second, 'b']] as const) await rt.closeSession(id);
  return worst;
}

function cases(): [string, () => Promise<ModelWeights>][] {
  return [
    ['stories260K (real weights, head 8: standard attention)', () => openModelWeights(folderModelFiles('../shared/models/stories260K'))],
    ['synthetic 5-block GQA model (head 16: GroupQueryAttention)', () => Promise.resolve(syntheticWeights({
      family: 'llama', numBlocks: 5, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, ffnSize: 128, vocabSize: 32,
      maxSeqLen: 64, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'rotate-half', tiedEmbeddings: true, attentionBias: false,
    }, 5))],
  ];
}

describe('splitting invariance', () => {
  for (const [name, open] of cases()) {
    for (const ops of ['contrib', 'standard'] as const) {
      it(`${name}, ${ops} ops: one runtime serving [0,5) split lazily into [0,2) + [2,5)`, async () => {
        const w = await open();
        const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, ops, backends: ['wasm'], threads: 1, maxSessionTokens: 40, cacheBudgetBytes: 1e9 });
        const diff = await splitDiff(rt, rt, rt, 5, 2, w.shape.hiddenSize);
        expect(diff).toBeLessThan(1e-5);
        await rt.dispose();
      });

      it(`${name}, ${ops} ops: two volunteers serving [0,2) and [2,5)`, async () => {
        const w = await open();
        const opts = { ops, backends: ['wasm' as const], threads: 1, maxSessionTokens: 40 };
        const whole = await createInThreadRuntime(ort, w, { ...opts, blocks: { start: 0, end: 5 } });
        const first = await createInThreadRuntime(ort, w, { ...opts, blocks: { start: 0, end: 2 } });
        const second = await createInThreadRuntime(ort, w, { ...opts, blocks: { start: 2, end: 5 } });
        const diff = await splitDiff(whole, first, second, 5, 2, w.shape.hiddenSize);
        expect(diff).toBeLessThan(1e-5);
        for (const rt of [whole, first, second]) await rt.dispose();
      });
    }
  }

  it('a span loaded as several onnxruntime sessions (maxSegmentBytes) computes the same as one session', async () => {
    const w = await openModelWeights(folderModelFiles('../shared/models/stories260K'));
    const opts = { blocks: { start: 0, end: 5 }, backends: ['wasm' as const], threads: 1, maxSessionTokens: 40 };
    const one = await createInThreadRuntime(ort, w, opts);
    const many = await createInThreadRuntime(ort, w, { ...opts, maxSegmentBytes: 2 * blockBytes(w.shape, 'fp32') }); // two blocks per session
    const d = w.shape.hiddenSize;
    for (const rt of [one, many]) await rt.openSession({ sessionId: 's', blocks: { start: 0, end: 5 }, maxLength: 40 });
    for (const x of [rows(6, d, 1), rows(1, d, 2), rows(1, d, 3)]) {
      const a = await one.step('s', x.slice());
      const b = await many.step('s', x.slice());
      expect(maxAbsDiff(a.hidden, b.hidden)).toBeLessThan(1e-5);
    }
    expect((await many.info()).weightBytes).toBe((await one.info()).weightBytes);
    expect((await one.info()).weightBytes).toBe(5 * blockBytes(w.shape, 'fp32'));
    for (const rt of [one, many]) await rt.dispose();
  });
});
