// core/stats: the one median and quantile the benches, the coordinator (RTT samples) and the simulator's metrics use.
import { describe, expect, it } from 'vitest';
import { median, quantile, quantileOfSorted } from '../../../core/stats/index.ts';

describe('median', () => {
  it('takes the middle value, the mean of the two middles for an even count, and leaves the input as it was', () => {
    const xs = [9, 1, 5];
    expect(median(xs)).toBe(5);
    expect(xs).toEqual([9, 1, 5]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('is NaN for no samples (callers fall back, e.g. to the default RTT)', () => {
    expect(median([])).toBeNaN();
  });
});

describe('quantile (nearest rank)', () => {
  it('answers a value of the sample: p50, p95 and the extremes', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    expect(quantile(xs, 0.5)).toBe(50);
    expect(quantile(xs, 0.95)).toBe(95);
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(100);
    expect(quantileOfSorted(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2);
  });

  it('is NaN for no samples', () => {
    expect(quantile([], 0.5)).toBeNaN();
  });
});
