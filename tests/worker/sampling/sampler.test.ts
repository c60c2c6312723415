// Sampling: greedy, temperature, top-k, top-p, repetition penalty, seeded PRNG.
import { describe, expect, it } from 'vitest';
import { argmax, sampleToken, seededRng, validateSampling } from '../../../worker/index.ts';

const logits = Float32Array.from([1, 3, 2.9, -1, 0.5]);
const base = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };

function histogram(params: typeof base, n: number, seed = 7, seen: number[] = []): number[] {
  const rng = seededRng(seed);
  const h = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) {
    const id = sampleToken(logits, params, rng, seen);
    h[id] = (h[id] ?? 0) + 1;
  }
  return h;
}

describe('sampling', () => {
  it('temperature 0 is argmax', () => {
    expect(sampleToken(logits, { ...base, temperature: 0 }, seededRng(1))).toBe(1);
    expect(argmax(logits)).toBe(1);
  });

  it('a seeded generator repeats, another seed differs, values lie in [0, 1)', () => {
    const a = seededRng(5);
    const b = seededRng(5);
    const c = seededRng(6);
    const xs = Array.from({ length: 100 }, () => a());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b()));
    expect(xs).not.toEqual(Array.from({ length: 100 }, () => c()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('temperature 1 follows the softmax', () => {
    const n = 20000;
    const h = histogram(base, n);
    const e = Array.from(logits, (v) => Math.exp(v));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((p, i) => expect(Math.abs((h[i] ?? 0) / n - p / z)).toBeLessThan(0.015));
  });

  it('top-k keeps the k most likely; top-p the smallest nucleus', () => {
    const k2 = histogram({ ...base, topK: 2 }, 2000);
    expect([k2[0], k2[3], k2[4]]).toEqual([0, 0, 0]);
    expect(k2[1]).toBeGreaterThan(0);
    expect(k2[2]).toBeGreaterThan(0);
    const p = histogram({ ...base, topP: 0.5 }, 2000);
    expect(p.filter((x) => x > 0)).toHaveLength(2);
    const tiny = histogram({ ...base, topP: 0.01 }, 200);
    expect(tiny[1]).toBe(200);
  });

  it('repetition penalty lowers tokens already seen', () => {
    expect(sampleToken(logits, { ...base, temperature: 0, repetitionPenalty: 1.5 }, seededRng(1), [1])).toBe(2);
    const h = histogram({ ...base, repetitionPenalty: 2 }, 4000, 3, [1, 2]);
    const plain = histogram(base, 4000, 3);
    expect(h[1] ?? 0).toBeLessThan(plain[1] ?? 0);
    expect(h[0] ?? 0).toBeGreaterThan(plain[0] ?? 0);
  });

  it('rejects out-of-range settings', () => {
    expect(() => validateSampling({ ...base, temperature: -1 })).toThrow(expect.objectContaining({ code: 'bad-input' }));
    expect(() => validateSampling({ ...base, topP: 0 })).toThrow(expect.objectContaining({ code: 'bad-input' }));
    expect(() => validateSampling({ ...base, topK: 1.5 })).toThrow(expect.objectContaining({ code: 'bad-input' }));
    expect(() => validateSampling({ ...base, repetitionPenalty: 0 })).toThrow(expect.objectContaining({ code: 'bad-input' }));
  });
});
