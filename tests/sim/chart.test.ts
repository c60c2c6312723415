// Compare charts read at a glance: round ticks, every bar's value written on it, a legend naming series and error bars.
import { describe, expect, it } from 'vitest';
import { barChartSvg } from '../../sim/index.ts';

const ticks = (svg: string): number[] => [...svg.matchAll(/<text x="\d+" y="[\d.]+" text-anchor="end">([^<]+)<\/text>/g)].map((m) => Number(m[1]));
const valueLabels = (svg: string): string[] => [...svg.matchAll(/class="value-label"[^>]*>([^<]+)</g)].map((m) => m[1] ?? '');

describe('compare bar charts', () => {
  it('puts the ticks at round values from 0 past the tallest bar', () => {
    for (const [values, errors] of [[[0.377, 0.21], [0.02, 0.01]], [[2.938, 0.579], [0.71, 0.008]], [[700.44, 84.2], [155.6, 3.2]], [[0.0031], [NaN]]] as const) {
      const t = ticks(barChartSvg('t', 's', values.map((_, i) => `p${i}`), [{ name: 'mean', values: [...values], errors: [...errors] }]));
      expect(t[0]).toBe(0);
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(8);
      const step = (t[1] ?? 0) - (t[0] ?? 0);
      const mantissa = step / 10 ** Math.floor(Math.log10(step));
      expect([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9)).toBe(true);
      t.forEach((v, i) => expect(v).toBeCloseTo(i * step, 9));
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(Math.max(...values.map((v, i) => v + (Number.isFinite(errors[i]) ? (errors[i] ?? 0) : 0))));
    }
  });

  it('labels every bar with its value and half-width, and the stacked total', () => {
    const grouped = barChartSvg('Response', 's', ['petals', 'bprr'], [
      { name: 'mean', values: [376.02, 74.15], errors: [90.91, 0.98] },
      { name: 'p95', values: [700.44, 84.24], errors: [155.64, NaN] },
    ]);
    expect(valueLabels(grouped)).toEqual(['376 ± 91', '700 ± 156', '74.2 ± 0.98', '84.2']);
    const stacked = barChartSvg('Waiting + service', 's', ['petals'], [
      { name: 'service', values: [187.15], errors: [36.5] },
      { name: 'waiting', values: [188.87], errors: [54.57] },
    ], true);
    expect(valueLabels(stacked)).toEqual(['187 ± 37', '189 ± 55', 'Σ 376']);
  });

  it('has a legend for one series too, naming the error bars only where there are some', () => {
    const one = barChartSvg('t', 's', ['a', 'b'], [{ name: 'per-token', values: [1, 2], errors: [0.1, NaN] }]);
    const legend = /<g class="legend">(.*?)<\/g>\n/s.exec(one)?.[1] ?? '';
    expect(legend).toContain('per-token');
    expect(legend).toContain('95 % CI');
    expect(one.match(/class="error-bar"/g)?.length).toBe(1);
    const none = barChartSvg('t', 's', ['a'], [{ name: 'mean', values: [1] }]);
    expect(/<g class="legend">(.*?)<\/g>\n/s.exec(none)?.[1]).not.toContain('95 % CI');
  });
});
