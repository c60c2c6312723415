// core/verify: the tolerance comparison, the check draw and its catch probability, and the signed text of a step answer.
import { describe, expect, it } from 'vitest';
import { catchProbability, compareOutputs, defaultVerifyTolerance, emptyInputsDigest, nextInputsDigest, shouldCheck, stepSigningText, tensorWireBytes } from '../../../core/verify/index.ts';
import { mulberry32 } from '../../../core/random/index.ts';

const sha256 = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>));

describe('compareOutputs', () => {
  it('agrees within the scale-relative tolerance and not beyond it; a NaN or a length mismatch never agrees', () => {
    const ref = Float32Array.from([10, -3, 0.5, 2]);
    const allowed = defaultVerifyTolerance.absolute + defaultVerifyTolerance.relative * 10;
    expect(compareOutputs(ref.map((x, i) => (i === 1 ? x + allowed * 0.9 : x)), ref).within).toBe(true);
    const off = compareOutputs(ref.map((x, i) => (i === 1 ? x + allowed * 1.5 : x)), ref);
    expect(off.within).toBe(false);
    expect(off.maxRelDiff).toBeCloseTo((allowed * 1.5) / 10, 6);
    expect(compareOutputs(Float32Array.from([NaN, -3, 0.5, 2]), ref).within).toBe(false);
    expect(compareOutputs(ref.subarray(0, 3), ref).within).toBe(false);
  });
});

describe('which steps are checked', () => {
  it('draws each step with the share, never with share 0, always with 1', () => {
    const r = mulberry32(5);
    let n = 0;
    for (let i = 0; i < 20_000; i++) if (shouldCheck(0.05, r)) n++;
    expect(n / 20_000).toBeGreaterThan(0.04);
    expect(n / 20_000).toBeLessThan(0.06);
    expect(shouldCheck(0, () => 0)).toBe(false);
    expect(shouldCheck(1, () => 0.9999)).toBe(true);
  });

  it('a liar on 10% of steps against 5% checks is caught within k steps with 1 − (1 − 0.005)^k', () => {
    expect(catchProbability(0.05, 0.1, 0)).toBe(0);
    expect(catchProbability(0.05, 0.1, 460)).toBeCloseTo(0.9, 2);
    expect(catchProbability(1, 1, 1)).toBe(1);
  });
});

describe('the signed text of a step answer', () => {
  it('binds every input: another input anywhere, or in another step partition, gives another digest', async () => {
    const a = tensorWireBytes(Float32Array.from([1, 2, 3, 4]), 'fp32');
    const b = tensorWireBytes(Float32Array.from([1, 2, 3, 5]), 'fp32');
    const one = await nextInputsDigest(sha256, emptyInputsDigest, a);
    const two = await nextInputsDigest(sha256, emptyInputsDigest, b);
    expect(one).not.toEqual(two);
    const text = (d: Uint8Array): string => stepSigningText({ leaseId: 'L', sessionId: 's', stepIndex: 0, inputsDigest: d, outputDigest: emptyInputsDigest });
    expect(text(one)).not.toBe(text(two));
    expect(text(one)).toBe(text(await nextInputsDigest(sha256, emptyInputsDigest, a)));
  });

  it('hashes fp16 as the wire carries it: decoding and re-encoding gives the same bytes', () => {
    const x = Float32Array.from([0.1, -2.5, 65504, 1e-8]);
    const bytes = tensorWireBytes(x, 'fp16');
    expect(bytes.byteLength).toBe(8);
    const decoded = new Float32Array(4);
    const bits = new Uint16Array(bytes.slice().buffer);
    for (let i = 0; i < 4; i++) {
      const h = bits[i] ?? 0;
      const e = (h >> 10) & 31;
      const f = h & 1023;
      decoded[i] = (h & 0x8000 ? -1 : 1) * (e === 0 ? 2 ** -14 * (f / 1024) : 2 ** (e - 15) * (1 + f / 1024));
    }
    expect(tensorWireBytes(decoded, 'fp16')).toEqual(bytes);
  });
});
