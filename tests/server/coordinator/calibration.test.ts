// The coordinator's fit of the overheads: released leases with known per-message overhead and client terms give them back; absurd reports stay bounded.
import { describe, expect, it } from 'vitest';
import type { MeasuredTimes, RouteRecord } from '../../../core/api/index.ts';
import { maxClientMsPerToken, maxMessageOverheadMs } from '../../../core/perf/index.ts';
import {
  calibrationReport,
  computeRatio,
  maxCalibrationReportsPerClient,
  maxComputeRatio,
  OverheadCalibration,
  type ReportedHop,
} from '../../../server/index.ts';

const prefill = { perTokenMs: 0.05, fixedMs: 1 };
const prefillSlopeMs = 0.01;
const promptTokens = 8;

/** A lease of `clientId` through hops of `blocks` blocks each. */
function lease(clientId: string, blocks: number[]): RouteRecord {
  let start = 0;
  const chain = blocks.map((k, i) => {
    const span = { start, end: start + k };
    start += k;
    return { peerId: `v${i}`, span };
  });
  return {
    leaseTag: 't', clientId, chain, policy: 'jffc', promptTokens, maxNewTokens: 16,
    predicted: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 1 }, queuedMs: 0, grantedAtMs: 0, outcome: 'released',
  };
}

/** The hops the coordinator knew: RTTs and claimed τ (planned = claimed). */
function hops(rttsMs: number[], blocks: number[], tauMs: number): ReportedHop[] {
  return rttsMs.map((rttMs, i) => ({ blocks: blocks[i] ?? 1, rttMs, claimedDecodeMs: tauMs, claimedPrefillMs: prefill, plannedDecodeMs: tauMs }));
}

/**
 * What a client measures on a swarm whose truth is: decode token = Σ (RTT + o + k τ) + c, first token
 * = Σ (RTT + pf + slope·l + k τᴵ(l)) + c, plus `noiseMs` on the decode token.
 */
function measure(h: ReportedHop[], truth: { overheadMs: number; prefillFixedMs: number; clientMs: number }, tokens: number, noiseMs = 0, reportClient = true): MeasuredTimes {
  const decodeMs = h.reduce((a, x) => a + x.rttMs + truth.overheadMs + x.blocks * x.claimedDecodeMs, 0) + truth.clientMs + noiseMs;
  const firstMs = h.reduce((a, x) => a + x.rttMs + truth.prefillFixedMs + prefillSlopeMs * promptTokens + x.blocks * (prefill.perTokenMs * promptTokens + prefill.fixedMs), 0) + truth.clientMs;
  const m: MeasuredTimes = { totalMs: firstMs + (tokens - 1) * decodeMs, tokens, firstTokenMs: firstMs };
  if (reportClient) m.clientMsPerToken = truth.clientMs;
  return m;
}

describe('overhead calibration', () => {
  it('recovers a known per-message overhead, prefill overhead and each client\'s own term from chains of 1–4 hops with noise', () => {
    const cal = new OverheadCalibration();
    const truth = { overheadMs: 6, prefillFixedMs: 15 };
    const clients = [{ id: 'near', clientMs: 3, rtt: 5 }, { id: 'far', clientMs: 12, rtt: 60 }, { id: 'mid', clientMs: 7, rtt: 25 }];
    let n = 0;
    for (let round = 0; round < 4; round++) {
      for (const c of clients) {
        const blocks = [2, 1, 3, 2].slice(0, 1 + ((round + n) % 4));
        const h = hops(blocks.map((_, i) => c.rtt + 3 * i), blocks, 2);
        // ±1.5 ms of noise per decode token, alternating.
        const noise = (n++ % 2 === 0 ? 1 : -1) * 1.5;
        const report = calibrationReport(lease(c.id, blocks), measure(h, { ...truth, clientMs: c.clientMs }, 24, noise), h, prefillSlopeMs);
        expect(report).toBeDefined();
        if (report !== undefined) cal.note(report);
      }
    }
    expect(cal.messageOverheadMs(1)).toBeGreaterThan(truth.overheadMs - 1);
    expect(cal.messageOverheadMs(1)).toBeLessThan(truth.overheadMs + 1);
    expect(cal.prefillOverheadMs({ perTokenMs: prefillSlopeMs, fixedMs: 2 }).fixedMs).toBeCloseTo(truth.prefillFixedMs, 6);
    expect(cal.prefillOverheadMs({ perTokenMs: prefillSlopeMs, fixedMs: 2 }).perTokenMs).toBe(prefillSlopeMs);
    for (const c of clients) expect(cal.clientMsPerTokenOf(c.id)).toBeCloseTo(c.clientMs, 6);
    expect(cal.clientMsPerToken()).toEqual({ near: 3, far: 12, mid: 7 });
  });

  it('keeps the configured overheads until enough reports came, and a one-token report adds none', () => {
    const cal = new OverheadCalibration();
    const h = hops([10], [2], 2);
    expect(calibrationReport(lease('c', [2]), { totalMs: 50, tokens: 1, firstTokenMs: 50 }, h, prefillSlopeMs)).toBeUndefined();
    const one = calibrationReport(lease('c', [2]), measure(h, { overheadMs: 9, prefillFixedMs: 3, clientMs: 1 }, 10), h, prefillSlopeMs);
    if (one !== undefined) cal.note(one);
    expect(cal.messageOverheadMs(1)).toBe(1);
    expect(cal.prefillOverheadMs({ perTokenMs: 0.01, fixedMs: 2 })).toEqual({ perTokenMs: 0.01, fixedMs: 2 });
  });

  it('absurd reports stay bounded: a lying client moves o by a rank, claims no more own work than its decode time, and cannot outvote by reporting often', () => {
    const cal = new OverheadCalibration();
    const truth = { overheadMs: 5, prefillFixedMs: 4 };
    for (let i = 0; i < 12; i++) {
      const id = `honest${i % 6}`;
      const h = hops([20, 30], [2, 3], 1);
      const r = calibrationReport(lease(id, [2, 3]), measure(h, { ...truth, clientMs: 2 }, 16), h, prefillSlopeMs);
      if (r !== undefined) cal.note(r);
    }
    const h = hops([20, 30], [2, 3], 1);
    for (let i = 0; i < 100; i++) {
      // An hour per token, and own work of a minute per token on a 10 ms decode token.
      const liar = calibrationReport(lease('liar', [2, 3]), { totalMs: 3_600_000 * 15, tokens: 16, firstTokenMs: 0, clientMsPerToken: maxClientMsPerToken }, h, prefillSlopeMs);
      if (liar !== undefined) cal.note(liar);
      const flatterer = calibrationReport(lease('flatterer', [2, 3]), { totalMs: 15 * 10, tokens: 16, firstTokenMs: 0, clientMsPerToken: maxClientMsPerToken }, h, prefillSlopeMs);
      if (flatterer !== undefined) cal.note(flatterer);
    }
    // 12 honest reports, 8 each from the two others: the median stays among the honest ones.
    expect(cal.reportCount).toBe(12 + 2 * maxCalibrationReportsPerClient);
    expect(cal.messageOverheadMs(1)).toBeCloseTo(truth.overheadMs, 6);
    expect(cal.messageOverheadMs(1)).toBeLessThanOrEqual(maxMessageOverheadMs);
    // Its own term is its own, bounded by the decode time it measured (10 ms per token), and nobody else's.
    expect(cal.clientMsPerTokenOf('flatterer')).toBe(10);
    expect(cal.clientMsPerTokenOf('honest0')).toBeCloseTo(2, 6);
  });

  it('charges a chain\'s compute only with what the overheads leave, within maxComputeRatio either way', () => {
    const h = hops([20, 30], [2, 2], 1);
    const truth = { overheadMs: 5, prefillFixedMs: 4, clientMs: 3 };
    const report = calibrationReport(lease('c', [2, 2]), measure(h, truth, 16), h, prefillSlopeMs);
    // With the true overheads the compute is as planned.
    expect(computeRatio(report, h, truth.overheadMs, truth.clientMs)).toBeCloseTo(1, 6);
    // Overheads overestimated: never below 1 / maxComputeRatio; underestimated: never above maxComputeRatio.
    expect(computeRatio(report, h, 50, truth.clientMs)).toBe(1 / maxComputeRatio);
    expect(computeRatio(report, h, 0, 0)).toBe(maxComputeRatio);
  });
});
