// What the coordinator believes of each volunteer beyond its claims: session reports that show it serves, and its measured speed.
import { median } from '../../core/stats/index.ts';
import { apiBounds, type RouteRecord } from '../../core/api/index.ts';

/** Clients whose reports a volunteer's measured speed keeps (the most recent), so memory and work stay bounded. */
export const maxReportingClients = 32;
/** Volunteer records kept (oldest forgotten first): ids are free to make, so the book is bounded. */
export const maxVolunteerRecords = 10_000;
/** How far one client's reports may move a volunteer's planned speed: 10 % (relative). */
export const clientInfluence = 0.1;
/** Concurrent leases a volunteer on probation (no successful session report yet) may hold while others have one. */
export const probationLeases = 1;
/** Weight of a client's newest report in its running estimate. */
const reportWeight = 0.5;

interface VolunteerRecord {
  /** Leases through it that a client released with at least one generated token. */
  successfulReports: number;
  /** Per client (most recent last), the decode ms per block its reports imply. */
  impliedDecodeMs: Map<string, number>;
  /** The last planned value and the prior it was computed from (route requests ask on every snapshot). */
  planned?: { priorMs: number; ms: number };
}

/**
 * Records keyed by volunteer id (they survive a re-registration of the same id; the identity
 * module makes the id key-derived). Pure bookkeeping, no clock.
 */
export class VolunteerRecords {
  private readonly records = new Map<string, VolunteerRecord>();

  private record(peerId: string): VolunteerRecord {
    let r = this.records.get(peerId);
    if (r === undefined) {
      r = { successfulReports: 0, impliedDecodeMs: new Map() };
      this.records.set(peerId, r);
      if (this.records.size > maxVolunteerRecords) {
        const oldest = this.records.keys().next().value;
        if (oldest !== undefined) this.records.delete(oldest);
      }
    }
    return r;
  }

  /** A successful session report shows it serves its span: until then it is on probation. */
  isVerified(peerId: string): boolean {
    return (this.records.get(peerId)?.successfulReports ?? 0) > 0;
  }

  /** A confirmed wrong result: the key's record is wiped (it starts on probation should it ever be admitted again). */
  noteBanned(peerId: string): void {
    const r = this.records.get(peerId);
    if (r === undefined) return;
    r.successfulReports = 0;
    r.impliedDecodeMs.clear();
    r.planned = undefined;
  }

  /** Clients whose estimates of `peerId` are kept. */
  clientsOf(peerId: string): number {
    return this.records.get(peerId)?.impliedDecodeMs.size ?? 0;
  }

  /** Whether any volunteer has a record (then the ones without are capped, see probationLeases). */
  anyVerified(peerIds: Iterable<string>): boolean {
    for (const id of peerIds) if (this.isVerified(id)) return true;
    return false;
  }

  /**
   * A client released `lease` with at least one generated token (`tokens`): every hop of its chain
   * gets a successful report, and each hop's planned decode time (`plannedMs` gives it now) times
   * the chain's compute ratio (what the report leaves for compute over what was planned: calibration.ts
   * computeRatio) becomes that client's estimate. No ratio (a one-token report): the record only.
   */
  noteReport(lease: RouteRecord, tokens: number, ratio: number | undefined, plannedMs: (peerId: string) => number | undefined): void {
    if (tokens < 1) return;
    for (const hop of lease.chain) {
      const r = this.record(hop.peerId);
      r.successfulReports += 1;
      const planned = plannedMs(hop.peerId);
      if (ratio === undefined || planned === undefined) continue;
      const implied = clampTau(planned * ratio);
      r.planned = undefined;
      const before = r.impliedDecodeMs.get(lease.clientId);
      r.impliedDecodeMs.delete(lease.clientId); // re-inserted last: the most recent clients are kept
      r.impliedDecodeMs.set(lease.clientId, before === undefined ? implied : before + reportWeight * (implied - before));
      if (r.impliedDecodeMs.size > maxReportingClients) {
        const oldest = r.impliedDecodeMs.keys().next().value;
        if (oldest !== undefined) r.impliedDecodeMs.delete(oldest);
      }
    }
  }

  /**
   * Planned decode ms per block: the median of the clients' estimates, held within ±10 % of what it
   * would be without each one of them (without any, `priorMs`), so no single client moves it further.
   */
  plannedDecodeMs(peerId: string, priorMs: number): number {
    const r = this.records.get(peerId);
    const estimates = r?.impliedDecodeMs;
    if (r === undefined || estimates === undefined || estimates.size === 0) return priorMs;
    if (r.planned?.priorMs === priorMs) return r.planned.ms;
    const all = [...estimates.entries()];
    let planned = median(all.map(([, ms]) => ms));
    for (const [client] of all) {
      const others = all.filter(([c]) => c !== client).map(([, ms]) => ms);
      const without = others.length === 0 ? priorMs : median(others);
      planned = Math.min(without * (1 + clientInfluence), Math.max(without * (1 - clientInfluence), planned));
    }
    r.planned = { priorMs, ms: clampTau(planned) };
    return r.planned.ms;
  }
}

/** Keeps a planned τ inside the bounds a register may claim. */
export function clampTau(ms: number): number {
  return Math.min(apiBounds.maxStepMs, Math.max(apiBounds.minDecodeMsPerBlock, ms));
}
