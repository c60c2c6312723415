// Churn: sessions on a leaving volunteer fail over (re-route and replay) and every request still finishes.
import { describe, expect, it } from 'vitest';
import { parseScenario, runScenario } from '../../sim/index.ts';

// Six volunteers that each hold the whole 4-block model; they leave every ~20 s for ~5 s.
const doc = {
  name: 'churny',
  model: { numBlocks: 4, blockBytes: 1e9, cacheBytesPerBlock: 1e8 },
  servers: [{ id: 'v', count: 6, region: 'eu', memoryBytes: 6e9, decodeMsPerBlock: 20, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 5 } }],
  clients: [{ id: 'c', region: 'eu' }],
  network: { regionRttMs: { eu: { eu: 30 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
  workload: { arrivalRatePerS: 1, meanInputTokens: 64, meanOutputTokens: 64 },
  arrivals: { process: 'poisson', count: 150 },
  churn: { meanOnlineS: 20, meanOfflineS: 5 },
};

describe('churn', () => {
  for (const policy of ['petals', 'bprr', 'followup']) {
    it(`${policy}: sessions fail over with a replay and all requests finish`, async () => {
      const scenario = parseScenario(doc);
      const r = await runScenario(scenario, policy, 5);
      expect(r.metrics.finished).toBe(150);
      expect(r.metrics.failovers).toBeGreaterThan(0);
      expect(r.metrics.replayMsMean).toBeGreaterThan(0);
      const again = await runScenario(scenario, policy, 5);
      expect(again.metrics).toEqual(r.metrics);
    });
  }

  it('names the field of a bad churn spec', () => {
    expect(() => parseScenario({ ...doc, churn: { meanOnlineS: 0, meanOfflineS: 5 } })).toThrow('scenario.churn.meanOnlineS: must be a positive number');
  });
});
