// The fitted overheads in the model and the simulator: the breakdown carries the per-message overheads and the client's own work, and a scenario's values are validated.
import { describe, expect, it } from 'vitest';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import type { PlacementResult } from '../../core/placement/index.ts';
import { plausiblePrefillMs, requestLinkCostMs, requestTime, maxClientMsPerToken, maxMessageOverheadMs } from '../../core/perf/index.ts';
import { wsRrRouting } from '../../core/routing/index.ts';
import { parseScenario, seededRandom, simulate, streamRandom, ScenarioError, type SimRequest } from '../../sim/index.ts';

const swarm: SwarmSnapshot = {
  model: { numBlocks: 4, blockBytes: 1e9, cacheBytesPerBlock: 65536, hiddenSize: 64 },
  servers: [
    { id: 'a', memoryBytes: 6e9, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 3 } },
    { id: 'b', memoryBytes: 6e9, decodeMsPerBlock: 5, prefillMsPerBlock: { perTokenMs: 1, fixedMs: 1 } },
  ],
  clients: [{ id: 'c' }, { id: 'd' }],
  network: {
    clientServerRttMs: { c: { a: 10, b: 40 }, d: { a: 30, b: 20 } },
    messageOverheadMs: 7,
    prefillOverheadMs: { perTokenMs: 0.25, fixedMs: 50 },
    clientMsPerToken: { c: 4 },
  },
  workload: { arrivalRatePerS: 1, meanInputTokens: 8, meanOutputTokens: 5 },
};
const chain = { hops: [{ serverId: 'a', span: { start: 0, end: 3 } }, { serverId: 'b', span: { start: 3, end: 4 } }] };

describe('performance model with fitted overheads', () => {
  it('the breakdown has the per-message overheads (of the transfer) and the client\'s own work l_out · c_c (in the total)', () => {
    const t = requestTime(swarm, 'c', chain, 8, 5, 11);
    // Per hop: the prefill overhead 0.25·8 + 50 and 4 decode messages of 7 ms.
    expect(t.overheadMs).toBeCloseTo(2 * (52 + 4 * 7), 10);
    expect(t.clientMs).toBe(5 * 4);
    expect(t.totalMs).toBeCloseTo(t.computeMs + t.transferMs + 20 + 11, 10);
    // A client without a term pays none; the term moves no chain's cost relative to another (the links do not carry it).
    const d = requestTime(swarm, 'd', chain, 8, 5);
    expect(d.clientMs).toBe(0);
    const cost = requestLinkCostMs(swarm, 'c', 8, 5);
    const links = chain.hops.reduce((a, h) => a + cost(h.serverId, h.span.end - h.span.start, h.span.start === 0), 0);
    expect(links + 20).toBeCloseTo(requestTime(swarm, 'c', chain, 8, 5).totalMs, 10);
  });

  it('a prefill claim is held to (l + 1) decode steps of the same volunteer; a plausible one stands', () => {
    // bench:regions saw a probe that met a stalled tab: 435 ms per block of prefill against a 0.26 ms step.
    expect(plausiblePrefillMs({ perTokenMs: 0, fixedMs: 435 }, 0.26)).toEqual({ perTokenMs: 0, fixedMs: 0.26 });
    expect(plausiblePrefillMs({ perTokenMs: 2.9, fixedMs: 0 }, 0.15)).toEqual({ perTokenMs: 0.15, fixedMs: 0 });
    expect(plausiblePrefillMs({ perTokenMs: 0.05, fixedMs: 1 }, 2)).toEqual({ perTokenMs: 0.05, fixedMs: 1 });
  });

  it('the simulator serves a request l_out · c_c (first token: one c_c) longer for its client', () => {
    const placement: PlacementResult = {
      policy: 'hand-made', assignments: [{ serverId: 'a', span: { start: 0, end: 4 }, cacheSlots: 8 }, { serverId: 'b', span: null, cacheSlots: 0 }],
      prediction: { perTokenMs: 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } }, runtimeMs: 0,
    };
    const req: SimRequest = { id: 0, clientId: 'c', arrivalMs: 0, inputTokens: 8, outputTokens: 10, maxNewTokens: 10 };
    const sim = (network: SwarmSnapshot['network'], service: boolean) => {
      const cfg: Parameters<typeof simulate>[0] = { swarm: { ...swarm, network }, placement, routing: wsRrRouting(), requests: [req], random: seededRandom(1) };
      // Both service paths: the nominal one (core/perf's requestTime) and the service model's own sum.
      if (service) {
        cfg.service = { stepJitterCv: 0 };
        cfg.serviceRandom = streamRandom(1, 'service');
      }
      return simulate(cfg).metrics;
    };
    const without: SwarmSnapshot['network'] = { ...swarm.network };
    delete without.clientMsPerToken;
    for (const service of [false, true]) {
      const withC = sim(swarm.network, service);
      const none = sim(without, service);
      expect(withC.serviceMs.mean - none.serviceMs.mean).toBeCloseTo(10 * 4, 6);
      expect(withC.ttftMs.mean - none.ttftMs.mean).toBeCloseTo(4, 6);
    }
  });
});

describe('scenario network.clientMsPerToken and overhead bounds', () => {
  const doc = (network: Record<string, unknown>): Record<string, unknown> => ({
    name: 't', model: { numBlocks: 4, blockBytes: 1e6, cacheBytesPerBlock: 1e5 },
    servers: [{ id: 'a', memoryBytes: 1e9, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 } }],
    clients: [{ id: 'c' }, { id: 'd' }],
    network: { clientServerRttMs: { c: { a: 5 }, d: { a: 9 } }, messageOverheadMs: 3, prefillOverheadMs: { perTokenMs: 0, fixedMs: 1 }, ...network },
    workload: { arrivalRatePerS: 1, meanInputTokens: 8, meanOutputTokens: 8 },
    arrivals: { process: 'poisson', count: 2 },
  });
  const fieldOf = (network: Record<string, unknown>): string => {
    try {
      parseScenario(doc(network));
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      expect((e as ScenarioError).code).toBe('bad-scenario');
      return (e as ScenarioError).field;
    }
    return 'accepted';
  };

  it('reads each listed client\'s term, and refuses an unknown client, a negative, non-numeric or too large one, and too large overheads', () => {
    expect(parseScenario(doc({ clientMsPerToken: { c: 2.5 } })).snapshot.network.clientMsPerToken).toEqual({ c: 2.5 });
    expect(parseScenario(doc({})).snapshot.network.clientMsPerToken).toBeUndefined();
    expect(fieldOf({ clientMsPerToken: { nobody: 1 } })).toBe('scenario.network.clientMsPerToken.nobody');
    expect(fieldOf({ clientMsPerToken: { c: -1 } })).toBe('scenario.network.clientMsPerToken.c');
    expect(fieldOf({ clientMsPerToken: { c: '3' } })).toBe('scenario.network.clientMsPerToken.c');
    expect(fieldOf({ clientMsPerToken: { c: maxClientMsPerToken + 1 } })).toBe('scenario.network.clientMsPerToken.c');
    expect(fieldOf({ clientMsPerToken: [1] })).toBe('scenario.network.clientMsPerToken');
    expect(fieldOf({ messageOverheadMs: maxMessageOverheadMs + 1 })).toBe('scenario.network.messageOverheadMs');
    expect(fieldOf({ prefillOverheadMs: { perTokenMs: 0, fixedMs: maxMessageOverheadMs + 1 } })).toBe('scenario.network.prefillOverheadMs.fixedMs');
  });
});
