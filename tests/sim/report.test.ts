// Compare statistics: Student-t intervals over seeds that shrink with more seeds, exact 0 on a deterministic scenario, load vs capacity.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { barChartSvg, loadFigures, meanCi95, parseScenario, placementCapacityPerS, runScenario, studentT95, summarizeRuns, type Scenario, type SimResult } from '../../sim/index.ts';

const clusteredDoc = JSON.parse(readFileSync('scenarios/bprr-clustered.json', 'utf8')) as Record<string, unknown> & { arrivals: Record<string, unknown> };

function clusteredWith(arrivals: Record<string, unknown>) {
  return parseScenario({ ...structuredClone(clusteredDoc), arrivals });
}

async function runs(scenario: Scenario, policy: string, seeds: number): Promise<SimResult[]> {
  const out: SimResult[] = [];
  for (let s = 1; s <= seeds; s++) out.push(await runScenario(scenario, policy, s));
  return out;
}

describe('compare statistics', () => {
  it('uses Student t: 12.706 at 1 degree of freedom, 2.262 at 9, → 1.96 for many', () => {
    expect(studentT95(1)).toBeCloseTo(12.706, 3);
    expect(studentT95(9)).toBeCloseTo(2.262, 3);
    expect(studentT95(1000)).toBeCloseTo(1.962, 2);
    const { mean, ci95 } = meanCi95([1, 2, 3, 4]);
    expect(mean).toBe(2.5);
    expect(ci95).toBeCloseTo((3.182 * Math.sqrt(5 / 3)) / 2, 3);
    expect(Number.isNaN(meanCi95([7]).ci95)).toBe(true); // one run: no interval
  });

  it('the 95 % interval of the mean response shrinks with more seeds on a stochastic scenario', async () => {
    const scenario = clusteredWith({ process: 'poisson', count: 40, ratePerS: 2 });
    const all = await runs(scenario, 'followup', 16);
    const few = summarizeRuns(all.slice(0, 3));
    const many = summarizeRuns(all);
    expect(few.responseMeanCi95).toBeGreaterThan(0);
    expect(many.responseMeanCi95).toBeGreaterThan(0);
    expect(many.responseMeanCi95).toBeLessThan(few.responseMeanCi95);
    // The mean of 16 seeds lies inside the 3-seed interval's generous reach and the means match summarizeRuns' old averages.
    const avg = all.reduce((s, r) => s + r.metrics.responseMs.mean, 0) / all.length / 1000;
    expect(many.responseMean).toBeCloseTo(avg, 9);
  });

  it('a deterministic scenario (one-client trace, no churn) gives an interval of exactly 0', async () => {
    const entries = Array.from({ length: 12 }, (_, i) => ({ atMs: i * 700, inputTokens: 20, outputTokens: 16, clientId: 'client-1' }));
    const scenario = clusteredWith({ process: 'trace', entries });
    const s = summarizeRuns(await runs(scenario, 'bprr', 3));
    for (const k of ['perTokenMeanCi95', 'ttftMeanCi95', 'responseMeanCi95', 'responseP95Ci95', 'waitingMeanCi95', 'serviceMeanCi95'] as const) {
      expect(s[k]).toBe(0);
    }
  });

  it('flags an unstable queue: offered load above what the placement serves', async () => {
    // 100 requests at 50/s on the clustered testbed: far beyond its ~1 request/s of chain capacity.
    const scenario = clusteredWith({ process: 'poisson', count: 100, ratePerS: 50 });
    const rs = await runs(scenario, 'followup', 1);
    const r0 = await runScenario(scenario, 'followup', 1);
    const capacity = placementCapacityPerS(scenario.snapshot, r0.placementResult);
    const over = loadFigures(rs.map((result) => ({ result, lastArrivalMs: 100 * 20 })), capacity);
    expect(capacity).toBeGreaterThan(0);
    expect(over.offeredPerS).toBeCloseTo(50, 6);
    expect(over.unstable).toBe(true);
    expect(over.throughputPerS).toBeLessThan(over.offeredPerS);
    const calm = clusteredWith({ process: 'poisson', count: 30, ratePerS: 0.05 });
    const c0 = await runScenario(calm, 'followup', 1);
    const ok = loadFigures([{ result: c0, lastArrivalMs: 30 * 20_000 }], placementCapacityPerS(calm.snapshot, c0.placementResult));
    expect(ok.unstable).toBe(false);
  });

  it('draws error bars in the SVG where an interval is given, none where it is n/a', () => {
    const withBars = barChartSvg('t', 's', ['a', 'b'], [{ name: 'mean', values: [1, 2], errors: [0.1, NaN] }]);
    expect(withBars.match(/class="error-bar"/g)?.length).toBe(1);
    expect(barChartSvg('t', 's', ['a'], [{ name: 'mean', values: [1] }])).not.toMatch(/error-bar/);
  });
});
