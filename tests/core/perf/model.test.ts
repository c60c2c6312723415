// The performance model of algorithms.md §1: round trips, the request-time breakdown, cache slots and waits.
import { describe, expect, it } from 'vitest';
import {
  cacheSlots,
  decodeLinkCostMs,
  PerfModelError,
  perTokenMs,
  perTokenRttMs,
  prefillMsPerBlock,
  prefillRttMs,
  requestLinkCostMs,
  requestTime,
  serverJobCosts,
  waitForSlotsMs,
} from '../../../core/perf/index.ts';
import type { SwarmSnapshot } from '../../../core/swarm/index.ts';

const snap: SwarmSnapshot = {
  model: { numBlocks: 4, blockBytes: 100, cacheBytesPerBlock: 10 },
  servers: [
    { id: 'a', memoryBytes: 1000, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 3 } },
    { id: 'b', memoryBytes: 1000, decodeMsPerBlock: 5, prefillMsPerBlock: { perTokenMs: 1, fixedMs: 1 } },
  ],
  clients: [{ id: 'c', weight: 3 }, { id: 'd', weight: 1 }],
  network: {
    clientServerRttMs: { c: { a: 10, b: 40 }, d: { a: 30, b: 20 } },
    messageOverheadMs: 7,
    prefillOverheadMs: { perTokenMs: 0.25, fixedMs: 50 },
  },
  workload: { arrivalRatePerS: 1, meanInputTokens: 8, meanOutputTokens: 5 },
};

describe('round trips', () => {
  it('t_cj = RTT + message overhead; tᴵ_cj(l) = RTT + a·l + b; τᴵ_j(l) = a·l + b', () => {
    expect(perTokenRttMs(snap, 'c', 'a')).toBe(17);
    expect(prefillRttMs(snap, 'c', 'b', 8)).toBe(40 + 0.25 * 8 + 50);
    expect(prefillMsPerBlock({ id: 'a', memoryBytes: 1, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.5, fixedMs: 3 } }, 8)).toBe(0.5 * 8 + 3);
  });
  it('a missing RTT is a bad-snapshot error naming the pair', () => {
    expect(() => perTokenRttMs(snap, 'c', 'zz')).toThrow(PerfModelError);
    try {
      perTokenRttMs(snap, 'nobody', 'a');
    } catch (e) {
      expect((e as PerfModelError).code).toBe('bad-snapshot');
      expect((e as Error).message).toContain("'nobody'");
    }
  });
});

describe('requestTime', () => {
  const chain = { hops: [{ serverId: 'a', span: { start: 0, end: 3 } }, { serverId: 'b', span: { start: 3, end: 4 } }] };
  it('splits T = Σ(tᴵ + k τᴵ) + (l_out − 1) Σ(t + k τ) + wait into compute, transfer and waiting', () => {
    const t = requestTime(snap, 'c', chain, 8, 5, 11);
    // compute: a: 3·(0.5·8+3) + 4·3·2 = 21 + 24; b: 1·(8+1) + 4·1·5 = 9 + 20
    expect(t.computeMs).toBeCloseTo(21 + 24 + 9 + 20, 10);
    // transfer: a: (10 + 2 + 50) + 4·17; b: (40 + 2 + 50) + 4·47
    expect(t.transferMs).toBeCloseTo(62 + 68 + 92 + 188, 10);
    expect(t.waitingMs).toBe(11);
    expect(t.totalMs).toBeCloseTo(t.computeMs + t.transferMs + 11, 10);
    expect(perTokenMs(t, 5)).toBeCloseTo(t.totalMs / 5, 10);
  });
  it('the whole-request link cost summed over the chain equals requestTime with no waiting', () => {
    const cost = requestLinkCostMs(snap, 'd', 8, 5);
    const sum = chain.hops.reduce((a, h) => a + cost(h.serverId, h.span.end - h.span.start, h.span.start === 0), 0);
    expect(sum).toBeCloseTo(requestTime(snap, 'd', chain, 8, 5).totalMs, 10);
  });
  it('one output token has no decode term', () => {
    const t = requestTime(snap, 'c', chain, 8, 1);
    expect(t.totalMs).toBeCloseTo(62 + 21 + 92 + 9, 10);
  });
  it('decode link cost is t_cj + τ_j k', () => {
    expect(decodeLinkCostMs(snap, 'c')('b', 3, false)).toBe(47 + 15);
  });
  it('job costs average the communication over clients by weight', () => {
    const costs = serverJobCosts(snap, 8, 5).get('a');
    const cComm = 10 + 2 + 50 + 4 * 17;
    const dComm = 30 + 2 + 50 + 4 * 37;
    expect(costs?.commMs).toBeCloseTo(0.75 * cComm + 0.25 * dComm, 10);
    expect(costs?.computeMsPerBlock).toBeCloseTo(7 + 4 * 2, 10);
  });
});

describe('cacheSlots', () => {
  it('n_j = ⌊(M − s_m m) / s_c⌋', () => {
    expect(cacheSlots(1000, 3, 100, 30)).toBe(23);
    expect(cacheSlots(1000, 0, 100, 30)).toBe(33); // no blocks: all memory is cache
  });
  it('never negative when the weights do not fit', () => {
    expect(cacheSlots(100, 3, 100, 30)).toBe(0);
  });
});

describe('waitForSlotsMs', () => {
  const active = [
    { slots: 2, expectedEndMs: 500 },
    { slots: 3, expectedEndMs: 200 },
    { slots: 1, expectedEndMs: 900 },
  ];
  it('is 0 when the slots are free now', () => {
    expect(waitForSlotsMs(100, 4, 4, active)).toBe(0);
  });
  it('waits for the earliest completions until enough slots are free', () => {
    expect(waitForSlotsMs(100, 1, 4, active)).toBe(100); // 1 + 3 at t = 200
    expect(waitForSlotsMs(100, 1, 5, active)).toBe(400); // needs the session ending at 500 too
    expect(waitForSlotsMs(100, 1, 7, active)).toBe(800);
  });
  it('never negative for overdue sessions, Infinity when it can never fit', () => {
    expect(waitForSlotsMs(1000, 0, 3, active)).toBe(0);
    expect(waitForSlotsMs(100, 1, 8, active)).toBe(Infinity);
  });
});
