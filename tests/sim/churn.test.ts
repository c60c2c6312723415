// Churn: sessions on a leaving volunteer fail over (re-route and replay) and every request still finishes.
import { describe, expect, it } from 'vitest';
import type { ServerSpec, SwarmSnapshot } from '../../core/swarm/index.ts';
import type { PlacementResult } from '../../core/placement/index.ts';
import { wsRrRouting } from '../../core/routing/index.ts';
import { parseScenario, runScenario, seededRandom, simulate } from '../../sim/index.ts';

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

describe('churn with a move budget', () => {
  it('parses maxMovesPerRound and refuses a negative one', () => {
    expect(parseScenario({ ...doc, churn: { ...doc.churn, maxMovesPerRound: 0 } }).churn?.maxMovesPerRound).toBe(0);
    let code: unknown;
    try {
      parseScenario({ ...doc, churn: { ...doc.churn, maxMovesPerRound: -1 } });
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    expect(code).toBe('bad-scenario');
  });

  // Two volunteers hold the whole model, two only its first half; both whole-model holders leave at
  // 1 s, so blocks [2, 4) have no holder until a half-model holder moves there.
  const spec = (id: string, memoryBytes: number): ServerSpec => ({ id, memoryBytes, decodeMsPerBlock: 20, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 5 } });
  const swarm: SwarmSnapshot = {
    model: { numBlocks: 4, blockBytes: 1e9, cacheBytesPerBlock: 1e8 },
    servers: [spec('w1', 6e9), spec('w2', 6e9), spec('h1', 2.4e9), spec('h2', 2.4e9)],
    clients: [{ id: 'c' }],
    network: { clientServerRttMs: { c: { w1: 30, w2: 30, h1: 30, h2: 30 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
    workload: { arrivalRatePerS: 1, meanInputTokens: 64, meanOutputTokens: 64 },
  };
  const placement: PlacementResult = {
    policy: 'hand-made',
    assignments: [
      { serverId: 'w1', span: { start: 0, end: 4 }, cacheSlots: 20 },
      { serverId: 'w2', span: { start: 0, end: 4 }, cacheSlots: 20 },
      { serverId: 'h1', span: { start: 0, end: 2 }, cacheSlots: 4 },
      { serverId: 'h2', span: { start: 0, end: 2 }, cacheSlots: 4 },
    ],
    prediction: { perTokenMs: 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } },
    runtimeMs: 0,
  };
  const requests = [{ id: 0, clientId: 'c', arrivalMs: 5000, inputTokens: 64, outputTokens: 8 }];

  for (const maxMovesPerRound of [0, 1]) {
    it(`moves at most ${maxMovesPerRound} volunteer(s) into the gap, and the request finishes only if one moved`, () => {
      let spans: PlacementResult['assignments'] = [];
      const result = simulate({
        swarm,
        placement,
        routing: wsRrRouting(),
        requests,
        random: seededRandom(1),
        churn: { meanOnlineMs: 1e9, meanOfflineMs: 1e9, serverIds: [], maxMovesPerRound },
        churnTrace: [
          { atMs: 1000, serverId: 'w1', kind: 'server-leave' },
          { atMs: 1000, serverId: 'w2', kind: 'server-leave' },
        ],
        observe: (_e, view) => {
          spans = [...view.placement];
        },
      });
      const moved = spans.filter((a) => a.serverId.startsWith('h') && a.span?.start === 2);
      expect(moved).toHaveLength(maxMovesPerRound);
      expect(result.metrics.finished).toBe(maxMovesPerRound);
    });
  }
});
