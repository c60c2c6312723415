// The simulator: deterministic for a seed, different for another, and every request accounted for.
import { describe, expect, it } from 'vitest';
import { runScenario, type SimResult } from '../../sim/index.ts';
import { loadScenario } from '../../tools/scenarios/index.ts';

const clustered = loadScenario('scenarios/bprr-clustered.json');

const results = (r: SimResult): unknown => r.metrics; // timing (wall clock) is kept out of the results

describe('simulator', () => {
  it('is deterministic for a seed and differs for another seed', async () => {
    for (const policy of ['petals', 'bprr', 'followup']) {
      const a = await runScenario(clustered, policy, 11);
      const b = await runScenario(clustered, policy, 11);
      const c = await runScenario(clustered, policy, 12);
      expect(results(a)).toEqual(results(b));
      expect(results(c)).not.toEqual(results(a));
      expect(a.metrics.finished).toBe(100);
    }
  });

  it('splits response time into waiting and service and reports per-server load', async () => {
    const r = await runScenario(clustered, 'petals', 1);
    const m = r.metrics;
    expect(m.responseMs.mean).toBeCloseTo(m.waitingMs.mean + m.serviceMs.mean, 6);
    expect(m.perTokenMs.mean).toBeCloseTo(m.responseMs.mean / 128, 6);
    expect(m.ttftMs.mean).toBeLessThan(m.responseMs.mean);
    expect(m.responseMs.p50).toBeLessThanOrEqual(m.responseMs.p95);
    expect(m.responseMs.p95).toBeLessThanOrEqual(m.responseMs.p99);
    expect(m.servers).toHaveLength(9);
    for (const s of m.servers) {
      expect(s.cacheOccupancy).toBeGreaterThanOrEqual(0);
      expect(s.cacheOccupancy).toBeLessThanOrEqual(1);
    }
    expect(r.timing.routingCalls).toBeGreaterThanOrEqual(100);
  });
});
