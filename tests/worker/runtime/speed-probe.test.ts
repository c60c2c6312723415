// The join-time speed probe: τ and τᴵ(l) measured on one block of the model's shape, and the linear fit.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { fitLinearMs, probeSpeed } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';

describe('speed probe', () => {
  it('fits τᴵ(l) = a·l + b by least squares', () => {
    const fit = fitLinearMs([{ tokens: 10, ms: 7 }, { tokens: 20, ms: 12 }, { tokens: 40, ms: 22 }]);
    expect(fit.perTokenMs).toBeCloseTo(0.5, 9);
    expect(fit.fixedMs).toBeCloseTo(2, 9);
  });

  it('measures decode and prefill of one stories260K-shaped block on wasm', async () => {
    const shape = (await openModelWeights(folderModelFiles('../shared/models/stories260K'))).shape;
    const r = await probeSpeed(ort, shape, { backends: ['wasm'], threads: 1, prefillLengths: [8, 32, 64], decodeSteps: 8, repeats: 2 });
    expect(r.backend).toBe('wasm');
    expect(r.decodeMsPerBlock).toBeGreaterThan(0);
    expect(r.prefillSamples.map((s) => s.tokens)).toEqual([8, 32, 64]);
    expect(r.prefillSamples.every((s) => s.ms > 0)).toBe(true);
    expect(r.prefillMsPerBlock.fixedMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(r.prefillMsPerBlock.perTokenMs)).toBe(true);
  });
});
