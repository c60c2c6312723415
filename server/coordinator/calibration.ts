// The coordinator's fit of the performance model's overheads from released leases: per-message overhead, prefill overhead, each client's own c_c.
import {
  boundedClientMsPerToken,
  fitMessageOverheadMs,
  fitPrefillFixedMs,
  type OverheadSample,
} from '../../core/perf/index.ts';
import type { MeasuredTimes, RouteRecord } from '../../core/api/index.ts';
import { median } from '../../core/stats/index.ts';
import type { LinearMs } from '../../core/swarm/index.ts';

/** Reports the fit keeps (the most recent), so memory and work stay bounded. */
export const calibrationWindow = 64;
/** Reports of one client among them (its oldest go first): no client outvotes the others by reporting often. */
export const maxCalibrationReportsPerClient = 8;
/** Clients whose own per-token work is kept (the least recently reporting forgotten first). */
export const maxCalibratedClients = 64;

/** What one released lease says, decomposed by the registry (core/perf OverheadSample) with the client's own report. */
export interface CalibrationReport extends OverheadSample {
  clientId: string;
  /** The client's reported own work per decode token, ms (bounded here by its decode time per token). */
  clientMsPerToken?: number;
  /** The measured decode time per token it is bounded by, ms. */
  decodeMsPerToken: number;
}

/** Most a single report's compute ratio moves a volunteer's τ estimate, either way (persistent deviations compound over reports). */
export const maxComputeRatio = 2;

/** One hop of a released lease as the coordinator knew it when the report came: the client's RTT to it and its claimed and planned speeds, ms. */
export interface ReportedHop {
  blocks: number;
  rttMs: number;
  /** τ_j as the volunteer claimed it (its registration), ms per block. */
  claimedDecodeMs: number;
  /** τᴵ_j(l) as claimed, ms per block. */
  claimedPrefillMs: LinearMs;
  /** τ_j as planned now (claims corrected by reports), ms per block. */
  plannedDecodeMs: number;
}

/** Measured decode ms per token after the first; undefined for a report of fewer than 2 tokens or without its first-token time. */
export function decodeMsPerToken(measured: MeasuredTimes): number | undefined {
  const first = measured.firstTokenMs;
  if (measured.tokens < 2 || first === undefined || measured.totalMs < first) return undefined;
  return (measured.totalMs - first) / (measured.tokens - 1);
}

/**
 * A released lease decomposed for the fit (core/perf OverheadSample): the decode excess over the
 * RTTs, the claimed compute and the client's own work, and the same for the first token. Undefined
 * for a report with no decode time (fewer than 2 tokens). prefillPerTokenMs is the configured
 * prefill overhead slope (ms per prompt token per hop). ms.
 */
export function calibrationReport(lease: RouteRecord, measured: MeasuredTimes, hops: readonly ReportedHop[], prefillPerTokenMs: number): CalibrationReport | undefined {
  const decodeMs = decodeMsPerToken(measured);
  if (decodeMs === undefined || hops.length === 0) return undefined;
  const clientMs = boundedClientMsPerToken(measured.clientMsPerToken, decodeMs) ?? 0;
  const lIn = lease.promptTokens;
  let rttMs = 0;
  let decodeComputeMs = 0;
  let prefillComputeMs = 0;
  for (const h of hops) {
    rttMs += h.rttMs;
    decodeComputeMs += h.blocks * h.claimedDecodeMs;
    prefillComputeMs += h.blocks * (h.claimedPrefillMs.perTokenMs * lIn + h.claimedPrefillMs.fixedMs);
  }
  const report: CalibrationReport = { clientId: lease.clientId, hops: hops.length, decodeMsPerToken: decodeMs, decodeExcessMs: decodeMs - rttMs - decodeComputeMs - clientMs };
  if (measured.clientMsPerToken !== undefined) report.clientMsPerToken = measured.clientMsPerToken;
  if (measured.firstTokenMs !== undefined) {
    report.prefillExcessMs = measured.firstTokenMs - rttMs - prefillComputeMs - hops.length * prefillPerTokenMs * lIn - clientMs;
  }
  return report;
}

/**
 * What a report says of its chain's compute: the measured decode time per token less the RTTs, h
 * fitted per-message overheads and the client's own work (its report's, else `clientMsPerToken`),
 * over the planned Σ k τ, clamped to [1 / maxComputeRatio, maxComputeRatio] (a noisy residual, even a
 * negative one, is no evidence of a 100× faster volunteer). Each hop's τ estimate is charged with it
 * (VolunteerRecords). Undefined without a decode time.
 */
export function computeRatio(report: CalibrationReport | undefined, hops: readonly ReportedHop[], messageOverheadMs: number, clientMsPerToken: number): number | undefined {
  if (report === undefined) return undefined;
  const planned = hops.reduce((a, h) => a + h.blocks * h.plannedDecodeMs, 0);
  if (!(planned > 0)) return undefined;
  const rttMs = hops.reduce((a, h) => a + h.rttMs, 0);
  const clientMs = boundedClientMsPerToken(report.clientMsPerToken, report.decodeMsPerToken) ?? clientMsPerToken;
  const residual = report.decodeMsPerToken - rttMs - hops.length * messageOverheadMs - clientMs;
  return Math.min(maxComputeRatio, Math.max(1 / maxComputeRatio, residual / planned));
}

/**
 * The fitted overheads (core/perf calibration): the per-message overhead o and the prefill message's
 * fixed overhead are medians over the recent reports of all clients (each client ≤
 * maxCalibrationReportsPerClient of them), so a few absurd reports move them by a rank at most and
 * never past core/perf's bounds; each client's c_c is its own (bounded) report and prices only its
 * own requests. Without enough reports the configured values stand. Pure bookkeeping, no clock.
 */
export class OverheadCalibration {
  private readonly reports: CalibrationReport[] = [];
  /** Per client, its last maxCalibrationReportsPerClient bounded c_c reports, ms. */
  private readonly clientMs = new Map<string, number[]>();
  private fitted: { messageOverheadMs: number | undefined; prefillFixedMs: number | undefined } | undefined;

  /** Adds one report (its client's oldest beyond its share, and the window's oldest, go). */
  note(report: CalibrationReport): void {
    const own = this.reports.filter((r) => r.clientId === report.clientId);
    if (own.length >= maxCalibrationReportsPerClient && own[0] !== undefined) this.reports.splice(this.reports.indexOf(own[0]), 1);
    this.reports.push(report);
    if (this.reports.length > calibrationWindow) this.reports.shift();
    this.fitted = undefined;
    const c = boundedClientMsPerToken(report.clientMsPerToken, report.decodeMsPerToken);
    if (c === undefined) return;
    const recent = this.clientMs.get(report.clientId) ?? [];
    this.clientMs.delete(report.clientId); // re-inserted last: the most recent clients are kept
    this.clientMs.set(report.clientId, [...recent.slice(1 - maxCalibrationReportsPerClient), c]);
    if (this.clientMs.size > maxCalibratedClients) {
      const oldest = this.clientMs.keys().next().value;
      if (oldest !== undefined) this.clientMs.delete(oldest);
    }
  }

  private fit(): { messageOverheadMs: number | undefined; prefillFixedMs: number | undefined } {
    this.fitted ??= { messageOverheadMs: fitMessageOverheadMs(this.reports), prefillFixedMs: fitPrefillFixedMs(this.reports) };
    return this.fitted;
  }

  /** o for planning: the fit, or `configuredMs` until there are enough reports, ms per message. */
  messageOverheadMs(configuredMs: number): number {
    return this.fit().messageOverheadMs ?? configuredMs;
  }

  /** The prefill overhead for planning: the configured per-token slope with the fitted fixed part per hop, ms. */
  prefillOverheadMs(configured: LinearMs): LinearMs {
    const fixedMs = this.fit().prefillFixedMs;
    return fixedMs === undefined ? configured : { perTokenMs: configured.perTokenMs, fixedMs };
  }

  /**
   * A client's own work per generated token: the median of its recent reports (a tab's first request,
   * compiling and warming up, is an outlier), ms; undefined when it never reported one.
   */
  clientMsPerTokenOf(clientId: string): number | undefined {
    const recent = this.clientMs.get(clientId);
    return recent === undefined ? undefined : median(recent);
  }

  /** Every kept client's own per-token work, ms. */
  clientMsPerToken(): Record<string, number> {
    return Object.fromEntries([...this.clientMs.keys()].map((id) => [id, this.clientMsPerTokenOf(id) ?? 0]));
  }

  /** Reports in the window (for tests and the dashboard). */
  get reportCount(): number {
    return this.reports.length;
  }
}
