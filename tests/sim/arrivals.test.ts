// Arrivals with variable lengths: log-normal draws, declared maxNewTokens ≥ what a request generates, the same arrival times as the fixed-length twin.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateRequests, lengthLawMean, parseScenario, streamRandom } from '../../sim/index.ts';
import { loadScenario } from '../../tools/scenarios/index.ts';

const followup = loadScenario('scenarios/followup-llama2-7b.json');
const fixed = loadScenario('scenarios/followup-llama2-7b-fixed.json');
const clusteredDoc = JSON.parse(readFileSync('scenarios/bprr-clustered.json', 'utf8')) as Record<string, unknown>;

function codeOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return (e as { code?: unknown }).code;
  }
  return 'no error';
}

describe('variable-length arrivals', () => {
  it('the follow-up testbed draws log-normal lengths, every request declaring maxNewTokens ≥ its output', () => {
    const reqs = generateRequests(followup.arrivals, followup.snapshot.clients, streamRandom(3, 'arrivals'));
    expect(reqs).toHaveLength(1000);
    const inputs = new Set(reqs.map((r) => r.inputTokens));
    const outputs = new Set(reqs.map((r) => r.outputTokens));
    expect(inputs.size).toBeGreaterThan(100);
    expect(outputs.size).toBeGreaterThan(20);
    for (const r of reqs) {
      expect(r.maxNewTokens).toBe(256);
      expect(r.outputTokens).toBeGreaterThanOrEqual(1);
      expect(r.outputTokens).toBeLessThanOrEqual(r.maxNewTokens ?? 0);
      expect(r.inputTokens).toBeLessThanOrEqual(3840);
    }
    // The sample means match the planned means (the clipped laws' means) within sampling error.
    const meanIn = reqs.reduce((s, r) => s + r.inputTokens, 0) / reqs.length;
    const meanOut = reqs.reduce((s, r) => s + r.outputTokens, 0) / reqs.length;
    expect(Math.abs(meanIn - followup.snapshot.workload.meanInputTokens) / followup.snapshot.workload.meanInputTokens).toBeLessThan(0.1);
    expect(Math.abs(meanOut - followup.snapshot.workload.meanOutputTokens) / followup.snapshot.workload.meanOutputTokens).toBeLessThan(0.2);
    // The median is well below the mean: a heavy right tail, as in the Azure trace.
    const sorted = reqs.map((r) => r.outputTokens).sort((a, b) => a - b);
    expect(sorted[500] ?? 0).toBeLessThan(0.7 * meanOut);
  });

  it('draws lengths after the arrival times: the fixed-length twin has the same arrivals', () => {
    const a = generateRequests(followup.arrivals, followup.snapshot.clients, streamRandom(5, 'arrivals'));
    const b = generateRequests(fixed.arrivals, fixed.snapshot.clients, streamRandom(5, 'arrivals'));
    expect(a.map((r) => r.arrivalMs)).toEqual(b.map((r) => r.arrivalMs));
    for (const r of b) {
      expect(r.inputTokens).toBe(2048);
      expect(r.outputTokens).toBe(28);
      expect(r.maxNewTokens).toBe(28);
    }
  });

  it('the planning means are the laws’ means', () => {
    const spec = followup.arrivals;
    if (spec.process !== 'bursty') throw new Error('the follow-up testbed has bursty arrivals');
    expect(Math.round(lengthLawMean(spec.inputTokens))).toBe(followup.snapshot.workload.meanInputTokens);
    expect(Math.round(lengthLawMean(spec.outputTokens))).toBe(followup.snapshot.workload.meanOutputTokens);
    expect(lengthLawMean(12)).toBe(12);
  });

  it('a trace carries each request’s declared maxNewTokens, inline or in the CSV', () => {
    const entries = [
      { atMs: 0, inputTokens: 20, outputTokens: 5, maxNewTokens: 64, clientId: 'client-1' },
      { atMs: 10, inputTokens: 30, outputTokens: 7, clientId: 'client-2' },
    ];
    const s = parseScenario({ ...structuredClone(clusteredDoc), arrivals: { process: 'trace', entries } });
    const reqs = generateRequests(s.arrivals, s.snapshot.clients, streamRandom(1, 'arrivals'));
    expect(reqs.map((r) => [r.outputTokens, r.maxNewTokens])).toEqual([[5, 64], [7, 7]]);
    const dir = mkdtempSync(join(tmpdir(), 'bouquet-trace-'));
    writeFileSync(join(dir, 't.csv'), 'atMs,inputTokens,outputTokens,maxNewTokens,clientId\n0,20,5,128,client-1\n5,20,9,,client-1\n');
    const c = parseScenario({ ...structuredClone(clusteredDoc), arrivals: { process: 'trace', file: 't.csv' } }, { readTextFile: (f) => readFileSync(join(dir, f), 'utf8') });
    const creqs = generateRequests(c.arrivals, c.snapshot.clients, streamRandom(1, 'arrivals'));
    expect(creqs.map((r) => [r.outputTokens, r.maxNewTokens])).toEqual([[5, 128], [9, 9]]);
  });

  it('refuses a declaration below the actual output and a malformed length law with code bad-scenario', () => {
    const withArrivals = (arrivals: unknown) => () => parseScenario({ ...structuredClone(clusteredDoc), arrivals });
    expect(codeOf(withArrivals({ process: 'trace', entries: [{ atMs: 0, inputTokens: 1, outputTokens: 9, maxNewTokens: 8 }] }))).toBe('bad-scenario');
    expect(codeOf(withArrivals({ process: 'poisson', count: 3, outputTokens: 16, maxNewTokens: 8 }))).toBe('bad-scenario');
    expect(codeOf(withArrivals({ process: 'poisson', count: 3, outputTokens: { law: 'zipf', median: 3, sigma: 1, min: 1, max: 9 } }))).toBe('bad-scenario');
    expect(codeOf(withArrivals({ process: 'poisson', count: 3, outputTokens: { law: 'lognormal', median: 3, sigma: 1, min: 0, max: 9 } }))).toBe('bad-scenario');
    expect(codeOf(withArrivals({ process: 'poisson', count: 3, inputTokens: { law: 'lognormal', median: 3, sigma: 1, min: 5, max: 4 } }))).toBe('bad-scenario');
    expect(codeOf(withArrivals({ process: 'poisson', count: 3, outputTokens: 16, maxNewTokens: 32 }))).toBe('no error');
  });

  it('clips drawn outputs to a declared maxNewTokens smaller than the law’s max', () => {
    const s = parseScenario({
      ...structuredClone(clusteredDoc),
      arrivals: { process: 'poisson', count: 300, outputTokens: { law: 'lognormal', median: 40, sigma: 1.5, min: 1, max: 1000 }, maxNewTokens: 50 },
    });
    const reqs = generateRequests(s.arrivals, s.snapshot.clients, streamRandom(2, 'arrivals'));
    expect(Math.max(...reqs.map((r) => r.outputTokens))).toBe(50);
    for (const r of reqs) expect(r.maxNewTokens).toBe(50);
  });
});
