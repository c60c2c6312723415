// The volunteer registry: who is there, what each holds and serves, its view, and the planner's snapshot of them.
import {
  apiBounds,
  type AssignmentReason,
  type MeasuredTimes,
  type RegisterMessage,
  type RouteRecord,
  type RouteRequest,
  type VolunteerLoad,
  type VolunteerState,
  type VolunteerView,
} from '../../core/api/index.ts';
import { sameSpan, type BlockSpan, type ServerSpec, type SwarmSnapshot } from '../../core/swarm/index.ts';
import { RttSamples } from './rtt-samples.ts';
import { median } from '../../core/stats/index.ts';
import { cacheSlots, plausiblePrefillMs } from '../../core/perf/index.ts';
import { hopSlots, maxBlocksFor, uncoveredBy } from '../../core/dispatch/index.ts';
import type { ServedModel } from '../models/index.ts';
import type { NetworkDefaults, VolunteerLink, WorkloadDefaults } from './options.ts';
import { probationLeases, VolunteerRecords } from './records.ts';
import { calibrationReport, computeRatio, OverheadCalibration, type ReportedHop } from './calibration.ts';

/**
 * Single-block cache slots the coordinator gives one volunteer at most, however much memory it
 * claims: a tab serving over a thousand concurrent sessions is implausible, and the planners' work
 * (GBP-CR's bound loops once per slot) must not grow with a claim.
 */
export const maxSlotsPerVolunteer = 1024;
/** Requests of one client the planned workload's window (100 requests) holds at most. */
export const maxWorkloadShareRequests = 10;
/** Clients whose RTT reports are kept per volunteer (the most recent). */
export const maxRttClients = 64;

/** One registered volunteer. */
export interface Volunteer {
  peerId: string;
  publicKey: string;
  memoryBytes: number;
  decodeMsPerBlock: number;
  prefillMsPerBlock: RegisterMessage['prefillMsPerBlock'];
  backend: RegisterMessage['backend'];
  link: VolunteerLink;
  joinedAtMs: number;
  lastHeartbeatAtMs: number;
  load: VolunteerLoad;
  /** Span it was last told to serve. */
  assignedSpan: BlockSpan | null;
  /** Span it reported ready (serves now). */
  servingSpan: BlockSpan | null;
  assignmentId: number;
  everAssigned: boolean;
  cacheSlots: number;
  /** Loop time lost (LoopLag.lostMs) when its last heartbeat arrived: a stall of our own is not its silence. */
  lostMsAtHeartbeat?: number;
}

const typicalClientId = 'typical-client';

/** Same span, or both none. */
/** The volunteers, the RTTs clients measured to them, and the recent workload. */
export class VolunteerRegistry {
  private readonly volunteers = new Map<string, Volunteer>();
  /** Per peer, each client's latest RTT report (clamped), for the most recent `maxRttClients` clients; ms. */
  private readonly rttSamples = new RttSamples(maxRttClients);
  /** Recent granted requests: arrival time, client and lengths, for the planned workload. */
  private readonly arrivals: { atMs: number; clientId: string; inTokens: number; outTokens: number }[] = [];
  /** Session reports and measured speeds, keyed by volunteer id. */
  readonly records = new VolunteerRecords();
  /** The per-message, prefill and client overheads fitted from the same reports. */
  readonly calibration = new OverheadCalibration();
  private checkedCache: { any: boolean; typicalMs: number } | undefined;

  constructor(
    private readonly served: ServedModel,
    private readonly network: NetworkDefaults,
    private readonly workload: WorkloadDefaults,
    private readonly now: () => number,
    /** Leases now running through a volunteer (probation caps them). */
    private readonly leasesThrough: (peerId: string, exceptClientId?: string) => number = () => 0,
    /**
     * Admission books declared lengths (the combo's `reservation: 'declared'`): the planned workload
     * then carries the mean declared length, prompt + maxNewTokens, as the simulator plans it.
     */
    private readonly declaredLengths = false,
  ) {}

  get model(): ServedModel['info'] {
    return this.served.info;
  }

  get(peerId: string): Volunteer | undefined {
    return this.volunteers.get(peerId);
  }

  all(): Volunteer[] {
    return [...this.volunteers.values()];
  }

  add(v: Volunteer): void {
    this.volunteers.set(v.peerId, v);
    this.checkedCache = undefined;
  }

  /** Forgets a volunteer and its RTT samples; returns it if it was there. */
  delete(peerId: string): Volunteer | undefined {
    const v = this.volunteers.get(peerId);
    this.volunteers.delete(peerId);
    this.rttSamples.forget(peerId);
    this.checkedCache = undefined;
    return v;
  }

  /**
   * Serves new routes: it acknowledged its assignment with `ready` (its ready span is the assigned
   * one) and says it serves; on probation (no successful session report while another volunteer has
   * one) only while it holds fewer than `probationLeases` leases of clients other than `forClientId`
   * (a client's own chain through it does not lock it out of that client's failovers).
   */
  isRoutable(v: Volunteer, forClientId?: string): boolean {
    if (v.servingSpan === null || !sameSpan(v.servingSpan, v.assignedSpan) || v.load.state !== 'serving') return false;
    return !this.onProbation(v) || this.leasesThrough(v.peerId, forClientId) < probationLeases;
  }

  /** No successful session report yet, while another volunteer here has one. */
  onProbation(v: Volunteer): boolean {
    return !this.records.isVerified(v.peerId) && this.checked().any;
  }

  /** Whether a present volunteer has a record, and their median planned τ (ms); cached until the swarm or a record changes. */
  private checked(): { any: boolean; typicalMs: number } {
    if (this.checkedCache !== undefined) return this.checkedCache;
    const ms: number[] = [];
    for (const x of this.volunteers.values()) if (this.records.isVerified(x.peerId)) ms.push(this.records.plannedDecodeMs(x.peerId, x.decodeMsPerBlock));
    this.checkedCache = { any: ms.length > 0, typicalMs: median(ms) };
    return this.checkedCache;
  }

  /** Volunteers that serve new routes (for `forClientId`'s request, when given; see isRoutable). */
  routable(forClientId?: string): Volunteer[] {
    return this.all().filter((x) => this.isRoutable(x, forClientId));
  }

  stateOf(v: Volunteer): VolunteerState {
    if (v.assignedSpan !== null && !sameSpan(v.assignedSpan, v.servingSpan)) return 'loading';
    return v.load.state;
  }

  view(v: Volunteer, leasedSlots: number): VolunteerView {
    return {
      peerId: v.peerId,
      state: this.stateOf(v),
      span: v.servingSpan,
      assignedSpan: v.assignedSpan,
      load: v.load,
      decodeMsPerBlock: v.decodeMsPerBlock,
      prefillMsPerBlock: v.prefillMsPerBlock,
      memoryBytes: v.memoryBytes,
      backend: v.backend,
      cacheSlots: v.cacheSlots,
      leasedSlots,
      joinedAtMs: v.joinedAtMs,
      lastHeartbeatAtMs: v.lastHeartbeatAtMs,
      probation: this.onProbation(v),
    };
  }

  /** Single-block cache slots a volunteer has left for sessions after its weights, as the volunteer computes them. */
  slotsFor(memoryBytes: number, span: BlockSpan | null): number {
    return Math.min(maxSlotsPerVolunteer, cacheSlots(memoryBytes, span === null ? 0 : hopSlots(span), this.model.blockBytes, this.model.cacheBytesPerBlock));
  }

  /** Memory the planners see: the claim, capped at all blocks plus `maxSlotsPerVolunteer` slots (more buys nothing), bytes. */
  plannedMemoryBytes(memoryBytes: number): number {
    const useful = this.model.numBlocks * this.model.blockBytes + maxSlotsPerVolunteer * this.model.cacheBytesPerBlock;
    return Math.min(memoryBytes, useful);
  }

  /**
   * τ_j for planning: measured (clients' reports, each client moving it ≤ 10 %) from a prior of the
   * claim — for a volunteer on probation, no faster than the median volunteer with a record. ms.
   */
  plannedDecodeMs(v: Volunteer): number {
    let prior = v.decodeMsPerBlock;
    if (this.onProbation(v)) {
      const typical = this.checked().typicalMs;
      if (!Number.isNaN(typical)) prior = Math.max(prior, typical);
    }
    return this.records.plannedDecodeMs(v.peerId, prior);
  }

  /**
   * A client's report on a lease it released: evidence that its hops serve; the fit of the
   * overheads (calibration.ts) from its decomposition over the client's RTTs and the hops' claims;
   * and what is left for compute, charged to the hops' measured speed.
   */
  noteReport(lease: RouteRecord, measured: MeasuredTimes): void {
    const hops: ReportedHop[] = [];
    for (const h of lease.chain) {
      const v = this.volunteers.get(h.peerId);
      if (v === undefined) break;
      hops.push({ blocks: hopSlots(h.span), rttMs: this.rttMs(h.peerId, lease.clientId), claimedDecodeMs: v.decodeMsPerBlock, claimedPrefillMs: plausiblePrefillMs(v.prefillMsPerBlock, v.decodeMsPerBlock), plannedDecodeMs: this.plannedDecodeMs(v) });
    }
    // A hop gone since: its claims are unknown, so the report says nothing of the overheads or speeds.
    const whole = hops.length === lease.chain.length;
    const report = whole ? calibrationReport(lease, measured, hops, this.network.prefillOverheadMs.perTokenMs) : undefined;
    if (report !== undefined) this.calibration.note(report);
    const ratio = computeRatio(report, hops, this.calibration.messageOverheadMs(this.network.messageOverheadMs), this.calibration.clientMsPerTokenOf(lease.clientId) ?? 0);
    const planned = new Map(lease.chain.map((h, i) => [h.peerId, hops[i]?.plannedDecodeMs]));
    this.records.noteReport(lease, measured.tokens, ratio, (id) => planned.get(id));
    this.checkedCache = undefined;
  }

  maxBlocks(memoryBytes: number): number {
    return maxBlocksFor(memoryBytes, this.model);
  }

  /** Tells a volunteer its new span (and records it); `idle` spans serve nothing. */
  sendAssignment(v: Volunteer, span: BlockSpan | null, reason: AssignmentReason): void {
    v.assignmentId += 1;
    v.assignedSpan = span;
    v.everAssigned = true;
    v.cacheSlots = this.slotsFor(v.memoryBytes, span);
    // Idle: nothing to load, so it is not 'loading' (it serves no blocks until reassigned).
    if (span === null) {
      v.servingSpan = null;
      v.load = { ...v.load, state: 'serving' };
    } else if (!sameSpan(span, v.servingSpan)) v.load = { ...v.load, state: 'loading' };
    v.link.send({ type: 'assignment', assignmentId: v.assignmentId, modelId: this.model.id, span, reason, cacheSlots: v.cacheSlots });
  }

  /** Blocks no assigned span covers. */
  uncovered(): number[] {
    return uncoveredBy(
      this.all().map((v) => v.assignedSpan),
      this.model.numBlocks,
    );
  }

  /**
   * Whether blocks `span` will be routable without the `excluded` peers once the volunteers now
   * loading their assigned spans are ready (together with the serving ones).
   */
  coverageLoading(span: BlockSpan, excluded: ReadonlySet<string>): boolean {
    const spans: (BlockSpan | null)[] = [];
    let loading = false;
    for (const v of this.volunteers.values()) {
      if (excluded.has(v.peerId)) continue;
      if (this.isRoutable(v)) {
        spans.push(v.servingSpan);
      } else if (v.assignedSpan !== null && !sameSpan(v.servingSpan, v.assignedSpan)) {
        spans.push(v.assignedSpan);
        loading = true;
      }
    }
    return loading && uncoveredBy(spans, this.model.numBlocks).every((b) => b < span.start || b >= span.end);
  }

  /**
   * Records the RTTs a client measured, per client (the least of its last 3 reports per peer; the most recent
   * `maxRttClients` clients per peer), clamped to `apiBounds.maxRttMs`.
   */
  noteRtts(request: RouteRequest): void {
    for (const [peer, rtt] of Object.entries(request.rttMs ?? {})) {
      if (!this.volunteers.has(peer)) continue;
      this.rttSamples.note(peer, request.clientId, Math.min(apiBounds.maxRttMs, rtt));
    }
  }

  /**
   * Records a granted request's lengths for the planned workload (refused ones never count); one
   * client holds at most `maxWorkloadShareRequests` of the window's 100.
   */
  noteGranted(request: RouteRequest): void {
    const own = this.arrivals.filter((a) => a.clientId === request.clientId);
    if (own.length >= maxWorkloadShareRequests && own[0] !== undefined) this.arrivals.splice(this.arrivals.indexOf(own[0]), 1);
    this.arrivals.push({ atMs: this.now(), clientId: request.clientId, inTokens: request.promptTokens, outTokens: request.maxNewTokens });
    if (this.arrivals.length > 100) this.arrivals.shift();
  }

  private plannedWorkload(): SwarmSnapshot['workload'] {
    const w: SwarmSnapshot['workload'] = { ...this.workload };
    const recent = this.arrivals;
    if (recent.length > 0) {
      w.meanInputTokens = recent.reduce((a, r) => a + r.inTokens, 0) / recent.length;
      w.meanOutputTokens = Math.max(1, recent.reduce((a, r) => a + r.outTokens, 0) / recent.length);
    }
    if (this.declaredLengths) {
      w.meanDeclaredTokens = recent.length > 0 ? recent.reduce((a, r) => a + r.inTokens + r.outTokens, 0) / recent.length : w.meanInputTokens + w.meanOutputTokens;
    }
    const first = recent[0];
    const last = recent[recent.length - 1];
    if (recent.length >= 2 && first !== undefined && last !== undefined && last.atMs > first.atMs) {
      w.arrivalRatePerS = ((recent.length - 1) * 1000) / (last.atMs - first.atMs);
    }
    return w;
  }

  private servers(volunteers: readonly Volunteer[]): ServerSpec[] {
    return volunteers.map((v) => {
      // Prefill, held to what the claimed decode step makes plausible, scales with decode as measured.
      const planned = this.plannedDecodeMs(v);
      const scale = planned / v.decodeMsPerBlock;
      const prefill = plausiblePrefillMs(v.prefillMsPerBlock, v.decodeMsPerBlock);
      return {
        id: v.peerId,
        memoryBytes: this.plannedMemoryBytes(v.memoryBytes),
        decodeMsPerBlock: planned,
        prefillMsPerBlock: scale === 1 ? prefill : { perTokenMs: prefill.perTokenMs * scale, fixedMs: prefill.fixedMs * scale },
      };
    });
  }

  /** Each client's latest RTT to each volunteer it reported (ms, clamped), for exporting the live swarm as a scenario. */
  clientRttsMs(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [peerId, byClient] of this.rttSamples) {
      for (const [clientId, rttMs] of byClient) (out[clientId] ??= {})[peerId] = rttMs;
    }
    return out;
  }

  /**
   * Planner snapshot over `volunteers` with one client: by default a typical one at the median
   * measured RTTs; for a request, its client with the RTTs it reported (the median, else the default, elsewhere).
   */
  planSnapshot(volunteers: readonly Volunteer[], client: { id: string; rttMs?: Record<string, number> } = { id: typicalClientId }): SwarmSnapshot {
    const rtts: Record<string, number> = {};
    for (const v of volunteers) rtts[v.peerId] = this.rttMs(v.peerId, client.id, client.rttMs?.[v.peerId]);
    const network: SwarmSnapshot['network'] = {
      clientServerRttMs: { [client.id]: rtts },
      messageOverheadMs: this.calibration.messageOverheadMs(this.network.messageOverheadMs),
      prefillOverheadMs: this.calibration.prefillOverheadMs(this.network.prefillOverheadMs),
    };
    // The client's own per-token work prices only its own requests (the typical client has none).
    const clientMs = this.calibration.clientMsPerTokenOf(client.id);
    if (clientMs !== undefined) network.clientMsPerToken = { [client.id]: clientMs };
    return { model: this.served.workload, servers: this.servers(volunteers), clients: [{ id: client.id }], network, workload: this.plannedWorkload() };
  }

  /** A client's RTT to a volunteer for planning: what it reports now, else its latest report, else the median over clients, else the default; clamped, ms. */
  private rttMs(peerId: string, clientId: string, reportedMs?: number): number {
    const ownMs = reportedMs ?? this.rttSamples.latestMs(peerId, clientId);
    if (ownMs !== undefined) return Math.min(apiBounds.maxRttMs, ownMs);
    const sampledMs = this.rttSamples.medianMs(peerId);
    return Math.min(apiBounds.maxRttMs, Number.isNaN(sampledMs) ? this.network.defaultRttMs : sampledMs);
  }
}
