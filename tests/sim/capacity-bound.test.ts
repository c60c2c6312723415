// The capacity (fluid) lower bound: its LP against a hand solution where memory binds, the relaxed bound where it does not, and simulated runs.
import { describe, expect, it } from 'vitest';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import { capacityLowerBound, expectedOnlineMs, packableUnits, responseLowerBound, sessionCacheBytesPerBlock, type SimRequest } from '../../sim/index.ts';
import { meanResponseMs, tinyRequests, tinySwarm } from './bouquet-fixtures.ts';

const L = 4;
const blockBytes = 10_000;
const lIn = 60;
const lOut = 40;
const rttMs = 50;

/**
 * Two servers that each hold all 4 blocks: `fast` with spare memory for `fastSessions`
 * sessions of this workload's tokens, `slow` (1.5× its decode, 1.2× its prefill) for 100.
 */
function twoServers(fastSessions: number): { swarm: SwarmSnapshot; sessionBytes: number } {
  const model = { numBlocks: L, blockBytes, cacheBytesPerBlock: 256 * 4, hiddenSize: 1, kvDim: 1, cacheBytesPerValue: 2 };
  const sessionBytes = L * sessionCacheBytesPerBlock(model, lIn + lOut);
  const swarm: SwarmSnapshot = {
    model,
    servers: [
      { id: 'fast', memoryBytes: L * blockBytes + Math.round(fastSessions * sessionBytes), decodeMsPerBlock: 4, prefillMsPerBlock: { perTokenMs: 0.02, fixedMs: 2 } },
      { id: 'slow', memoryBytes: L * blockBytes + 100 * sessionBytes, decodeMsPerBlock: 6, prefillMsPerBlock: { perTokenMs: 0.024, fixedMs: 2.4 } },
    ],
    clients: [{ id: 'c' }],
    network: { clientServerRttMs: { c: { fast: rttMs, slow: rttMs } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
    workload: { arrivalRatePerS: 1, meanInputTokens: lIn, meanOutputTokens: lOut },
  };
  return { swarm, sessionBytes };
}

/** `n` requests of the one class, `gapMs` apart from t = 0. */
function evenRequests(n: number, gapMs: number): SimRequest[] {
  return Array.from({ length: n }, (_, id) => ({ id, clientId: 'c', arrivalMs: id * gapMs, inputTokens: lIn, outputTokens: lOut }));
}

/** Nominal cost of a hop of `blocks` blocks, ms: tᴵ_c + (l_out − 1) t_c + k (τᴵ(l_in) + (l_out − 1) τ). */
function hopMs(server: SwarmSnapshot['servers'][number], blocks: number): number {
  const fixed = rttMs + 0.01 * lIn + 5 + (lOut - 1) * (rttMs + 5);
  const perBlock = server.prefillMsPerBlock.perTokenMs * lIn + server.prefillMsPerBlock.fixedMs + (lOut - 1) * server.decodeMsPerBlock;
  return fixed + blocks * perBlock;
}

describe('capacityLowerBound', () => {
  it.each([1, 1.7])('where the fast server has room for %s session(s) and cannot take every request, equals the hand-solved LP (whole sessions) and lies above the relaxed bound', async (fastSessions) => {
    const { swarm, sessionBytes } = twoServers(fastSessions);
    const [fast, slow] = swarm.servers;
    if (fast === undefined || slow === undefined) throw new Error('two servers');
    const fastMs = hopMs(fast, L);
    const slowMs = hopMs(slow, L);
    // The fastest chain of ≥ 2 hops: the fast server twice (it holds 4 blocks beside one session).
    const multiHopMs = Math.min(2 * hopMs(fast, 0) + L * (hopMs(fast, 1) - hopMs(fast, 0)), hopMs(fast, L - 1) + hopMs(slow, 1));
    const n = 30;
    const requests = evenRequests(n, fastMs / 3); // three arrivals per fast service: the fast server takes about a third
    const relaxed = responseLowerBound(swarm, requests).meanMs;
    expect(relaxed).toBeCloseTo(fastMs, 6);
    const bound = await capacityLowerBound(swarm, requests);
    // The LP by hand at the slack it reports: the fast server's memory-time over [a_1, a_N + Δ]
    // takes H · spare / (S_fast · session bytes) requests; the rest go to the cheapest unlimited option.
    const horizonMs = (n - 1) * (fastMs / 3) + bound.horizonSlackMs;
    // Sessions are whole: room for 1.7 holds one at a time.
    const wholeSessions = Math.floor((fast.memoryBytes - L * blockBytes) / sessionBytes);
    expect(wholeSessions).toBe(1);
    const onFast = Math.min(n, (horizonMs * wholeSessions * sessionBytes) / (fastMs * sessionBytes));
    const overflowMs = Math.min(slowMs, multiHopMs, Math.max(bound.horizonSlackMs, fastMs));
    const hand = (onFast * fastMs + (n - onFast) * overflowMs) / n;
    expect(onFast).toBeLessThan(n);
    expect(bound.meanMs).toBeCloseTo(hand, 6);
    expect(bound.meanMs).toBeGreaterThan(relaxed * 1.05);
    expect(bound.classes).toBe(1);
    expect(bound.lengthBits).toBeNull();
  });

  it('with ample memory and one class equals the relaxed bound’s mean', async () => {
    const { swarm } = twoServers(1000);
    const requests = evenRequests(30, 10);
    const bound = await capacityLowerBound(swarm, requests);
    expect(bound.meanMs).toBeCloseTo(responseLowerBound(swarm, requests).meanMs, 6);
  });

  it('counts only the online time under churn: less memory-time, so a higher bound than without churn', async () => {
    const { swarm } = twoServers(1);
    const requests = evenRequests(60, 300);
    const churn = { meanOnlineMs: 2_000, meanOfflineMs: 2_000 };
    const without = await capacityLowerBound(swarm, requests);
    const withChurn = await capacityLowerBound(swarm, requests, { churn });
    const relaxed = responseLowerBound(swarm, requests).meanMs;
    expect(without.meanMs).toBeGreaterThan(relaxed);
    expect(withChurn.meanMs).toBeGreaterThan(without.meanMs);
    // Every volunteer starts online: the whole first instant, the stationary share π = ½ in the long run.
    expect(expectedOnlineMs(churn, 0, 1e-3)).toBeCloseTo(1e-3, 9);
    expect(expectedOnlineMs(churn, 1e6, 2e6) / 1e6).toBeCloseTo(0.5, 9);
    expect(expectedOnlineMs(undefined, 100, 400)).toBe(300);
  });

  it('fills a server only with whole sessions of the run’s sizes', () => {
    // 10 units of room, sessions of 4 and 7 units: at most 8 (4 + 4) at once, never 10.
    expect(packableUnits(10, [7, 4, 7])).toBe(8);
    expect(packableUnits(11, [7, 4])).toBe(11);
    expect(packableUnits(3, [4, 7])).toBe(0);
    expect(packableUnits(9, [1, 4])).toBe(9);
  });

  it('groups similar lengths to cap the classes, which can only lower the bound, never below the relaxed one', async () => {
    const swarm = tinySwarm(3);
    const requests = tinyRequests(swarm, 3);
    const exact = await capacityLowerBound(swarm, requests);
    const capped = await capacityLowerBound(swarm, requests, { maxClasses: 10 });
    expect(exact.classes).toBeGreaterThan(10);
    expect(capped.classes).toBeLessThanOrEqual(10);
    expect(capped.lengthBits).not.toBeNull();
    expect(capped.meanMs).toBeLessThanOrEqual(exact.meanMs * (1 + 1e-9));
    expect(capped.meanMs).toBeGreaterThanOrEqual(responseLowerBound(swarm, requests).meanMs * (1 - 1e-9));
  });

  it('no simulated policy beats it on 30 seeded tiny instances, and memory binds on some of them', async () => {
    let binds = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const swarm = tinySwarm(seed);
      const requests = tinyRequests(swarm, seed);
      const bound = (await capacityLowerBound(swarm, requests)).meanMs;
      const relaxed = responseLowerBound(swarm, requests).meanMs;
      expect(bound).toBeGreaterThanOrEqual(relaxed * (1 - 1e-9));
      expect(bound).toBeLessThanOrEqual((await meanResponseMs('bouquet', swarm, requests)) * (1 + 1e-9));
      expect(bound).toBeLessThanOrEqual((await meanResponseMs('followup', swarm, requests)) * (1 + 1e-9));
      if (bound > relaxed * (1 + 1e-6)) binds++;
    }
    // Seeds 3, 4, 13, 15, 20, 24, 25, 27 and 29 at the time of writing; seed 26 is one where a
    // pure steady-state LP (horizon = arrival span, no late option) would exceed bouquet's mean.
    expect(binds).toBeGreaterThanOrEqual(5);
  });
});
