// core/random: the PRNG every seeded policy, simulation and synthetic model relies on.
import { describe, expect, it } from 'vitest';
import { mulberry32, seededRandom, streamRandom, type Random } from '../../../core/random/index.ts';

describe('mulberry32', () => {
  it('repeats its sequence for a seed, differs for another, stays in [0, 1)', () => {
    const take = (seed: number): number[] => {
      const r = mulberry32(seed);
      return Array.from({ length: 1000 }, () => r());
    };
    const a = take(7);
    expect(take(7)).toEqual(a);
    expect(take(8)).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });
});

describe('seededRandom and streamRandom', () => {
  const take = (r: Random, n = 200): number[] => Array.from({ length: n }, () => r.next());

  it('repeat for a seed and differ for another', () => {
    expect(take(seededRandom(3))).toEqual(take(seededRandom(3)));
    expect(take(seededRandom(3))).not.toEqual(take(seededRandom(4)));
  });

  it('give each named stream of a seed its own sequence, the same every time', () => {
    expect(take(streamRandom(1, 'arrivals'))).toEqual(take(streamRandom(1, 'arrivals')));
    expect(take(streamRandom(1, 'arrivals'))).not.toEqual(take(streamRandom(1, 'churn')));
    expect(take(streamRandom(1, 'arrivals')).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
