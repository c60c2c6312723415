// Fitting the performance model's overheads from measured requests: the per-message overhead o, the prefill overhead per hop, a client's own c_c.
import { median } from '../stats/index.ts';
import type { LinearMs } from '../swarm/index.ts';

/** Largest per-message overhead (decode messageOverheadMs, prefill fixedMs) a fit or a scenario may give: a minute per message is a dead link, ms. */
export const maxMessageOverheadMs = 60_000;
/** Largest client work per generated token (c_c) a client may report or a scenario give: a minute per token is a dead tab, ms. */
export const maxClientMsPerToken = 60_000;
/** Reports a fit needs before it replaces the configured overhead: one stray request is noise. */
export const minCalibrationReports = 2;

/**
 * One released request, decomposed with what the coordinator knew when it was reported. The model
 * says a decode token takes Σ_j (r_j + o + k_j τ_j) + c_c over the chain's h hops (r_j the client's
 * RTTs, τ_j the volunteers' claimed speeds, c_c the client's own work), so what is left of the
 * measurement beyond the RTTs, the claimed compute and c_c is h · o plus noise. ms.
 */
export interface OverheadSample {
  /** h: hops of the chain (messages per token). */
  hops: number;
  /** Measured decode ms per token (after the first) − Σ r_j − Σ k_j τ_j − c_c, ms. */
  decodeExcessMs: number;
  /**
   * Measured ms to the first token − Σ r_j − Σ k_j τᴵ_j(l_in) − h · perTokenMs · l_in − c_c: h times
   * the prefill message's fixed overhead (the route request and each hop's session opening land here
   * too, since the client's first-token time counts from its request), ms. Absent when not reported.
   */
  prefillExcessMs?: number;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Median of the per-hop excesses: robust to a few absurd reports (a liar moves the median by one rank, not by its size). */
function perHopMedian(samples: readonly OverheadSample[], excess: (s: OverheadSample) => number | undefined): number | undefined {
  const perHop: number[] = [];
  for (const s of samples) {
    const e = excess(s);
    if (s.hops >= 1 && e !== undefined && Number.isFinite(e)) perHop.push(e / s.hops);
  }
  if (perHop.length < minCalibrationReports) return undefined;
  return clamp(median(perHop), 0, maxMessageOverheadMs);
}

/**
 * o, the per-message overhead of one decode hop (serialization, the volunteer's worker hop and
 * queueing, both ends' event loops), fitted as the median over `samples` of decodeExcessMs / hops,
 * clamped to [0, maxMessageOverheadMs]; undefined with fewer than minCalibrationReports usable ones. ms per message.
 */
export function fitMessageOverheadMs(samples: readonly OverheadSample[]): number | undefined {
  return perHopMedian(samples, (s) => s.decodeExcessMs);
}

/**
 * The prefill message's fixed overhead per hop (prefillOverheadMs.fixedMs), fitted like
 * fitMessageOverheadMs from prefillExcessMs; undefined with too few reports. ms per hop.
 */
export function fitPrefillFixedMs(samples: readonly OverheadSample[]): number | undefined {
  return perHopMedian(samples, (s) => s.prefillExcessMs);
}

/**
 * A client's own work per generated token as it reported it, bounded: never above what its whole
 * decode token took (`decodeMsPerToken`, which it also measured) nor maxClientMsPerToken; undefined
 * for a report that is not a finite number ≥ 0. ms per token.
 */
export function boundedClientMsPerToken(reportedMs: number | undefined, decodeMsPerToken: number): number | undefined {
  if (reportedMs === undefined || !Number.isFinite(reportedMs) || reportedMs < 0 || !Number.isFinite(decodeMsPerToken)) return undefined;
  return clamp(reportedMs, 0, Math.min(maxClientMsPerToken, Math.max(0, decodeMsPerToken)));
}

/**
 * A claimed prefill cost τᴵ_j(l) = perTokenMs · l + fixedMs held to what the same volunteer's decode
 * step τ_j makes plausible: each coefficient at most τ_j, so τᴵ_j(l) ≤ (l + 1) · τ_j. Prefilling l
 * tokens in one batch does the work of l single-token steps with better batching, so it is never
 * slower than l + 1 of them; a speed probe that met a stalled tab (435 ms per block against a 0.26 ms
 * step, seen in bench:regions) must not price every chain through it. ms per block.
 */
export function plausiblePrefillMs(prefill: LinearMs, decodeMsPerBlock: number): LinearMs {
  if (!(decodeMsPerBlock > 0)) return prefill;
  return { perTokenMs: Math.min(prefill.perTokenMs, decodeMsPerBlock), fixedMs: Math.min(prefill.fixedMs, decodeMsPerBlock) };
}
