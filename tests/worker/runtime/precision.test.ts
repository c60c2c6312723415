// fp16 graphs (the WebGPU shader-f16 path) computed on wasm agree with fp32; KV cache is accounted at 2 bytes per value.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import type { ModelShape } from '../../../core/model/index.ts';
import { createInThreadRuntime, syntheticWeights } from '../../../worker/index.ts';
import { maxAbsDiff } from '../support/reference-llama.ts';

const shape: ModelShape = {
  family: 'llama', numBlocks: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, ffnSize: 128, vocabSize: 40,
  maxSeqLen: 64, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'rotate-half', tiedEmbeddings: false, attentionBias: false,
};

describe('fp16 graphs', () => {
  for (const ops of ['contrib', 'standard'] as const) {
    it(`fp16 ≈ fp32 on prefill + decode and the head (${ops} ops)`, async () => {
      const out: { hidden: Float32Array; logits: Float32Array; slotBytes: number }[] = [];
      for (const precision of ['fp32', 'fp16'] as const) {
        const rt = await createInThreadRuntime(ort, syntheticWeights(shape, 3), { blocks: { start: 0, end: 2 }, client: true, precision, ops, backends: ['wasm'], threads: 1, maxSessionTokens: 32 });
        const x = await rt.embed(Int32Array.from([1, 5, 9, 13, 17]));
        await rt.openSession({ sessionId: 's', blocks: { start: 0, end: 2 }, maxLength: 16 });
        await rt.step('s', x.slice(0, 4 * 64));
        const d = await rt.step('s', x.slice(4 * 64));
        out.push({ hidden: d.hidden, logits: await rt.head(d.hidden), slotBytes: (await rt.cacheUsage()).slotBytes });
        await rt.dispose();
      }
      const [f32, f16] = out;
      if (f32 === undefined || f16 === undefined) throw new Error('missing run');
      expect(maxAbsDiff(f32.hidden, f16.hidden)).toBeLessThan(2e-2);
      expect(maxAbsDiff(f32.logits, f16.logits)).toBeLessThan(2e-2);
      expect(maxAbsDiff(f32.logits, f16.logits)).toBeGreaterThan(0); // really computed in half precision
      expect(f16.slotBytes * 2).toBe(f32.slotBytes);
    });
  }

  it("precision 'auto' resolves to fp32 without WebGPU shader-f16", async () => {
    const rt = await createInThreadRuntime(ort, syntheticWeights(shape, 3), { blocks: { start: 0, end: 1 }, precision: 'auto', backends: ['wasm'], threads: 1, maxSessionTokens: 32 });
    expect((await rt.info()).precision).toBe('fp32');
    await rt.dispose();
  });
});
