// The service model's options: each changes what it should (lengths, speeds, jitter, contention, reservation) and nothing else.
import { describe, expect, it } from 'vitest';
import type { ServerSpec, SwarmSnapshot } from '../../core/swarm/index.ts';
import type { PlacementResult } from '../../core/placement/index.ts';
import { jffcRouting, petalsRouting, wsRrRouting, type RoutingPolicy, type RoutingRequest } from '../../core/routing/index.ts';
import { sessionHopSlots } from '../../core/dispatch/index.ts';
import { resolveCombo, routingPolicyFor } from '../../core/policies/index.ts';
import { drawSpeedFactors, parseScenario, runScenario, seededRandom, simulate, streamRandom, type ServiceSpec, type SimRequest } from '../../sim/index.ts';

// One volunteer holding the whole 4-block model, 8 slots; 60 ms client RTT.
const spec: ServerSpec = { id: 'v', memoryBytes: 6e9, decodeMsPerBlock: 20, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 5 } };
const swarm: SwarmSnapshot = {
  // 2 · kvDim 64 · 2 bytes = 256 bytes per token: a slot holds 256 tokens.
  model: { numBlocks: 4, blockBytes: 1e9, cacheBytesPerBlock: 65536, hiddenSize: 64, kvDim: 64, cacheBytesPerValue: 2 },
  servers: [spec, { ...spec, id: 'w' }],
  clients: [{ id: 'c' }],
  network: { clientServerRttMs: { c: { v: 60, w: 60 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
  workload: { arrivalRatePerS: 1, meanInputTokens: 16, meanOutputTokens: 32 },
};
const onlyV = (slots: number): PlacementResult => ({
  policy: 'hand-made',
  assignments: [{ serverId: 'v', span: { start: 0, end: 4 }, cacheSlots: slots }],
  prediction: { perTokenMs: 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } },
  runtimeMs: 0,
});
const req = (id: number, arrivalMs: number, outputTokens = 32, maxNewTokens = 32): SimRequest => ({ id, clientId: 'c', arrivalMs, inputTokens: 16, outputTokens, maxNewTokens });

function run(requests: SimRequest[], service?: ServiceSpec, slots = 8, routing: RoutingPolicy = wsRrRouting(), seed = 1) {
  const cfg: Parameters<typeof simulate>[0] = { swarm, placement: onlyV(slots), routing, requests, random: seededRandom(seed) };
  if (service !== undefined) {
    cfg.service = service;
    cfg.serviceRandom = streamRandom(seed, 'service');
  }
  return simulate(cfg);
}

describe('service model: lengths', () => {
  it('routing sees the declared output length, never the actual one', () => {
    const seen: RoutingRequest[] = [];
    const inner = wsRrRouting();
    const spy: RoutingPolicy = { ...inner, route: (snap, r) => (seen.push({ ...r }), inner.route(snap, r)) };
    const r = run([req(0, 0, 5, 200), req(1, 10, 7, 90)], undefined, 8, spy);
    expect(r.metrics.finished).toBe(2);
    expect(seen.map((s) => s.outputTokens)).toEqual([200, 90]);
    expect(seen.every((s) => Object.keys(s).sort().join() === 'clientId,inputTokens,outputTokens')).toBe(true);
  });

  it('serves each request for its actual output: a longer declaration does not lengthen service', () => {
    const short = run([req(0, 0, 10, 10)]).metrics.serviceMs.mean;
    const declaredLong = run([req(0, 0, 10, 200)]).metrics.serviceMs.mean;
    const actualLong = run([req(0, 0, 200, 200)]).metrics.serviceMs.mean;
    expect(declaredLong).toBe(short);
    expect(actualLong).toBeGreaterThan(short);
  });
});

describe('service model: contention', () => {
  const contention = { baseTaus: 0, perSessionTaus: 1 };
  it('a volunteer serving two sessions at once takes longer per token than with one', () => {
    const one = run([req(0, 0)], { contention }).metrics.perTokenMs.mean;
    const two = run([req(0, 0), req(1, 0)], { contention });
    const alone = run([req(0, 0), req(1, 0)]);
    expect(two.metrics.perTokenMs.mean).toBeGreaterThan(one * 1.2);
    // Without the option concurrency costs memory, not time: both run at the one-session pace.
    expect(alone.metrics.perTokenMs.mean).toBeCloseTo(one, 9);
  });

  it('is off when absent: sessions far apart run at the nominal pace either way', () => {
    const far = [req(0, 0), req(1, 600_000)];
    expect(run(far, { contention }).metrics.responseMs).toEqual(run(far).metrics.responseMs);
  });
});

describe('service model: speed variability', () => {
  it('draws server speeds deterministically per seed, different for another seed, mean near 1', () => {
    const big: SwarmSnapshot = { ...swarm, servers: Array.from({ length: 2000 }, (_, i) => ({ ...spec, id: `s${i}` })) };
    const a = drawSpeedFactors(big, { speedCv: 0.3 }, streamRandom(3, 'service'));
    const b = drawSpeedFactors(big, { speedCv: 0.3 }, streamRandom(3, 'service'));
    const c = drawSpeedFactors(big, { speedCv: 0.3 }, streamRandom(4, 'service'));
    expect([...a.values()]).toEqual([...b.values()]);
    expect([...a.values()]).not.toEqual([...c.values()]);
    const xs = [...a.values()];
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(mean).toBeGreaterThan(0.97);
    expect(mean).toBeLessThan(1.03);
    expect(sd / mean).toBeGreaterThan(0.25);
    expect(sd / mean).toBeLessThan(0.35);
  });

  it('changes service time but not what routing is told, and reproduces for a seed', () => {
    const seen: number[] = [];
    const inner = wsRrRouting();
    const spy: RoutingPolicy = { ...inner, route: (snap, r) => (seen.push(r.outputTokens), inner.route(snap, r)) };
    const reqs = [req(0, 0), req(1, 5000)];
    const nominal = run(reqs).metrics.serviceMs.mean;
    const varied = run(reqs, { speedCv: 0.5 }, 8, spy, 7);
    expect(varied.metrics.serviceMs.mean).not.toBe(nominal);
    expect(run(reqs, { speedCv: 0.5 }, 8, wsRrRouting(), 7).metrics).toEqual(varied.metrics);
    expect(seen).toEqual([32, 32]);
  });

  it('step jitter varies sessions of the same length on the same server', () => {
    const reqs = [req(0, 0), req(1, 100_000), req(2, 200_000)];
    const r = run(reqs, { stepJitterCv: 0.5 });
    expect(r.metrics.serviceMs.p99).not.toBe(r.metrics.serviceMs.p50);
    const plain = run(reqs).metrics.serviceMs;
    expect(plain.p99).toBe(plain.p50);
  });
});

describe('service model: reservation by declared length', () => {
  it('a slot holds 256 tokens; a 16 + 32-token declaration takes 3 of its 16 token blocks per block', () => {
    expect(sessionHopSlots({ start: 0, end: 4 }, 'declared', 48, 256)).toBeCloseTo((4 * 3) / 16, 12);
    expect(sessionHopSlots({ start: 0, end: 4 }, 'slot', 48, 256)).toBe(4);
    expect(sessionHopSlots({ start: 0, end: 4 }, 'declared', 10_000, 256)).toBe(4);
  });

  it('admits more concurrent sessions than whole slots allow, and none wait for cache', () => {
    // 4 slots over 4 blocks: one whole-slot session at a time; five short declared ones fit together.
    const burst = Array.from({ length: 5 }, (_, i) => req(i, 0));
    const whole = run(burst, undefined, 4);
    const declared = run(burst, { reservation: 'declared' }, 4);
    expect(whole.metrics.waitingMs.mean).toBeGreaterThan(0);
    expect(declared.metrics.waitingMs.mean).toBe(0);
    expect(declared.metrics.finished).toBe(5);
  });

  it('does the same under PETALS\' refusals; JFFC keeps its chains\' capacity c_k from the placement', () => {
    const burst = Array.from({ length: 5 }, (_, i) => req(i, 0));
    const whole = run(burst, undefined, 4, petalsRouting());
    const declared = run(burst, { reservation: 'declared' }, 4, petalsRouting());
    expect(whole.metrics.waitingMs.mean).toBeGreaterThan(0);
    expect(declared.metrics.waitingMs.mean).toBe(0);
    expect(declared.metrics.retriesMean).toBe(0);
    // JFFC admits by its chains' capacity (one session here), which the placement sized in whole
    // slots: reserving less cache does not raise it (re-tuning c is the policy's job).
    const jffcWhole = run(burst, undefined, 4, jffcRouting());
    const jffcDeclared = run(burst, { reservation: 'declared' }, 4, jffcRouting());
    expect(jffcDeclared.metrics.responseMs).toEqual(jffcWhole.metrics.responseMs);
  });

  it("bouquet: a declaration no chain would hold even idle does not hold the FIFO queue's head for those behind it", () => {
    // Half a whole slot over 4 blocks, planned in declared-length sessions (two of 16 + 32 tokens: 3 of a slot's 16 token
    // blocks): a short declaration fits, a whole-slot one (16 + 500 tokens, capped at the slot) never, however idle.
    const placement: PlacementResult = { ...onlyV(2), sessionsPerSlot: 16 / 3, chains: [{ chain: { hops: [{ serverId: 'v', span: { start: 0, end: 4 } }] }, capacity: 2, serviceMs: 1 }] };
    const r = simulate({ swarm, placement, routing: routingPolicyFor('bouquet'), requests: [req(0, 0, 32, 500), req(1, 10)], random: seededRandom(1), reservation: 'declared' });
    expect(r.metrics.finished).toBe(1);
    expect(r.metrics.requests).toBe(2);
  });

  it('the ablation followup-declared: its JFFC counts a chain free by the cache its hops have, so short sessions share a slot', () => {
    // One 1-session chain (4 slots over 4 blocks). Each request declares 16 + 32 tokens: 3 of a
    // slot's 16 token blocks, so five fit the cache at once where c_k admits one.
    const burst = Array.from({ length: 5 }, (_, i) => req(i, 0));
    const combo = resolveCombo('followup-declared');
    expect(combo.reservation).toBe('declared');
    const ablation = routingPolicyFor(combo.routing, combo.routingOptions);
    const declaredByCache = run(burst, { reservation: combo.reservation }, 4, ablation);
    const followup = run(burst, undefined, 4, routingPolicyFor(resolveCombo('followup').routing));
    expect(followup.metrics.waitingMs.mean).toBeGreaterThan(0);
    expect(declaredByCache.metrics.waitingMs.mean).toBe(0);
    expect(declaredByCache.metrics.responseMs.mean).toBeLessThan(followup.metrics.responseMs.mean);
    // Counted by cache but with whole slots reserved, it is the follow-up again: one at a time.
    const wholeByCache = run(burst, undefined, 4, ablation);
    expect(wholeByCache.metrics.responseMs).toEqual(followup.metrics.responseMs);
    // A sixth needs 18 of the 16 token blocks: of eight at once, three wait, for cache.
    const eight = Array.from({ length: 8 }, (_, i) => req(i, 0));
    const packed = run(eight, { reservation: 'declared' }, 4, ablation);
    expect(packed.metrics.waitingMs.p50).toBe(0);
    expect(packed.metrics.waitingMs.p95).toBeGreaterThan(0);
    expect(packed.metrics.finished).toBe(8);
  });
});

describe('service model: scenario files', () => {
  const doc = {
    name: 'svc',
    model: { numBlocks: 4, blockBytes: 1e9, cacheBytesPerBlock: 1e8 },
    servers: [{ id: 'v', count: 3, region: 'eu', memoryBytes: 6e9, decodeMsPerBlock: 20, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 5 } }],
    clients: [{ id: 'c', region: 'eu' }],
    network: { regionRttMs: { eu: { eu: 30 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
    workload: { arrivalRatePerS: 2, meanInputTokens: 64, meanOutputTokens: 64 },
    arrivals: { process: 'poisson', count: 60 },
  };
  const codeOf = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return (e as { code?: unknown }).code;
    }
    return undefined;
  };

  it('parses the service block ("browser" contention is the measured one) and refuses bad options with bad-scenario', () => {
    const s = parseScenario({ ...doc, service: { speedCv: 0.2, stepJitterCv: 0.1, contention: 'browser', reservation: 'declared' } });
    expect(s.service).toEqual({ speedCv: 0.2, stepJitterCv: 0.1, contention: { baseTaus: 0, perSessionTaus: 1 }, reservation: 'declared' });
    expect(codeOf(() => parseScenario({ ...doc, service: { speedCv: -1 } }))).toBe('bad-scenario');
    expect(codeOf(() => parseScenario({ ...doc, service: { reservation: 'half' } }))).toBe('bad-scenario');
    expect(codeOf(() => parseScenario({ ...doc, service: { turbo: true } }))).toBe('bad-scenario');
    expect(codeOf(() => parseScenario({ ...doc, service: { contention: { baseTaus: 0, perSessionTaus: 0 } } }))).toBe('bad-scenario');
  });

  it("a scenario's own combo carries admission, retune and rebalance as core/policies' combos do, and refuses bad ones with bad-scenario", () => {
    const combo = { placement: 'gbp-cr', routing: 'jffc', routingOptions: { jffcFreeBy: 'cache' }, reservation: 'declared', retune: true, rebalance: false };
    expect(parseScenario({ ...doc, policies: { mine: combo } }).policies.mine).toEqual(combo);
    expect(codeOf(() => parseScenario({ ...doc, policies: { mine: { ...combo, reservation: 'half' } } }))).toBe('bad-scenario');
    expect(codeOf(() => parseScenario({ ...doc, policies: { mine: { ...combo, retune: 'yes' } } }))).toBe('bad-scenario');
  });

  it('an empty service block changes nothing; each option is deterministic per seed', async () => {
    for (const policy of ['petals', 'bprr', 'followup']) {
      const plain = await runScenario(parseScenario(doc), policy, 2);
      const empty = await runScenario(parseScenario({ ...doc, service: {} }), policy, 2);
      expect(empty.metrics).toEqual(plain.metrics);
      const noisy = parseScenario({ ...doc, service: { speedCv: 0.3, stepJitterCv: 0.2, contention: 'browser' } });
      const a = await runScenario(noisy, policy, 2);
      expect((await runScenario(noisy, policy, 2)).metrics).toEqual(a.metrics);
      expect(a.metrics.responseMs.mean).not.toBe(plain.metrics.responseMs.mean);
    }
  });
});
