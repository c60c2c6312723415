// Every supported family computed exactly: tiny random HF models against an independent float64 reference, whole and split over block ranges.
import { describe, expect, it } from 'vitest';
import { checkFamily, generateBoth } from '../support/family-check.ts';
import { tinyFamilyConfigs, writeTinyFamily, writeTinyGemma3Multimodal } from '../support/tiny-families.ts';

const tolerance = 1e-4;
const prompt = [0, 5, 17, 33, 60, 71, 90];
// Four greedy tokens, a three-token step (masks with past > 0 and T > 1), five more greedy tokens: 19 tokens,
// past every sliding window and across longrope's pretraining context.
const plan = [1, 1, 1, 1, 3, 1, 1, 1, 1, 1];

for (const name of Object.keys(tinyFamilyConfigs)) {
  describe(name, () => {
    for (const ops of ['contrib', 'standard'] as const) {
      it(`${ops} ops, one process: logits within ${tolerance} relative and the same greedy tokens`, async () => {
        const m = await writeTinyFamily(name);
        const L = m.config.num_hidden_layers as number;
        const r = await checkFamily(m, { ops, spans: [{ start: 0, end: L }], prompt, plan, tolerance });
        console.info(`${name} ${ops} whole: max relative logit error ${r.maxRelError.toExponential(2)}, ${r.greedySteps} greedy steps`);
        expect(r.tokens).toBe(19);
        expect(r.maxRelError).toBeLessThan(tolerance);
        expect(r.greedySteps).toBeGreaterThan(5);
        expect(r.greedyMismatches).toBe(0);
      });
    }

    it('contrib ops, split over three volunteers\' block ranges: the same logits', async () => {
      const m = await writeTinyFamily(name);
      const L = m.config.num_hidden_layers as number;
      const spans = [{ start: 0, end: 1 }, { start: 1, end: L - 1 }, { start: L - 1, end: L }];
      const r = await checkFamily(m, { ops: 'contrib', spans, prompt, plan, tolerance });
      console.info(`${name} contrib split: max relative logit error ${r.maxRelError.toExponential(2)}`);
      expect(r.maxRelError).toBeLessThan(tolerance);
      expect(r.greedyMismatches).toBe(0);
    });

    it('standard ops, one volunteer serving every block with sessions over two sub-ranges: the same logits', async () => {
      const m = await writeTinyFamily(name);
      const L = m.config.num_hidden_layers as number;
      const spans = [{ start: 0, end: Math.ceil(L / 2) }, { start: Math.ceil(L / 2), end: L }];
      const r = await checkFamily(m, { ops: 'standard', spans, prompt, plan, tolerance, oneRuntime: true });
      expect(r.maxRelError).toBeLessThan(tolerance);
      expect(r.greedyMismatches).toBe(0);
    });

    it('generateText with its tokenizer.json, greedy: the reference\'s tokens', async () => {
      const m = await writeTinyFamily(name);
      const { runtime, reference } = await generateBoth(m, 'Hello, tiny world', 12);
      expect(reference.length).toBeGreaterThan(0);
      expect(runtime).toEqual(reference);
    });
  });
}

describe('longrope across the pretraining context', () => {
  for (const ops of ['contrib', 'standard'] as const) {
    it(`phi-3.5-mini, ${ops} ops: a 10-token prompt past the 8-token pretraining context uses the long factors from the first step`, async () => {
      const m = await writeTinyFamily('phi-3.5-mini');
      const r = await checkFamily(m, { ops, spans: [{ start: 0, end: 3 }], prompt: [0, 3, 9, 27, 81, 115, 20, 60, 44, 101], plan: [1, 1, 1, 2, 1], tolerance });
      expect(r.maxRelError).toBeLessThan(tolerance);
      expect(r.greedyMismatches).toBe(0);
    });
  }
});

describe('q4 weights (MatMulNBits) of the new layouts compute the rounded model', () => {
  for (const name of ['qwen3', 'phi-3.5-mini', 'gemma-3']) {
    it(`${name}, contrib ops, split over two volunteers`, async () => {
      const m = await writeTinyFamily(name);
      const L = m.config.num_hidden_layers as number;
      const spans = [{ start: 0, end: 1 }, { start: 1, end: L }];
      const r = await checkFamily(m, { ops: 'contrib', spans, prompt, plan, tolerance, q4: true });
      console.info(`${name} q4 split: max relative logit error ${r.maxRelError.toExponential(2)}`);
      expect(r.maxRelError).toBeLessThan(tolerance);
      expect(r.greedyMismatches).toBe(0);
    });
  }
});

describe('Gemma 3 4B+ layout: the text decoder inside a multimodal checkpoint (model_type gemma3)', () => {
  for (const prefix of ['language_model.model.', 'model.language_model.'] as const) {
    it(`tensors under ${prefix}: the same logits as the text model, split over two volunteers`, async () => {
      const m = await writeTinyGemma3Multimodal(prefix);
      const r = await checkFamily(m, { ops: 'contrib', spans: [{ start: 0, end: 5 }, { start: 5, end: 6 }], prompt, plan, tolerance });
      expect(r.maxRelError).toBeLessThan(tolerance);
      expect(r.greedyMismatches).toBe(0);
    });
  }
});
