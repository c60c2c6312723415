// The volunteer registry: who is there, what each holds and serves, its view, and the planner's snapshot of them.
import type {
  AssignmentReason,
  RegisterMessage,
  RouteRequest,
  VolunteerLoad,
  VolunteerState,
  VolunteerView,
} from '../../core/api/index.ts';
import { sameSpan, type BlockSpan, type ServerSpec, type SwarmSnapshot } from '../../core/swarm/index.ts';
import { median } from '../../core/stats/index.ts';
import { cacheSlots } from '../../core/perf/index.ts';
import { hopSlots, maxBlocksFor, uncoveredBy } from '../../core/dispatch/index.ts';
import type { ServedModel } from '../models/index.ts';
import type { NetworkDefaults, VolunteerLink, WorkloadDefaults } from './options.ts';
import { ProbationBook } from '../identity/index.ts';

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
}

const typicalClientId = 'typical-client';

/** Same span, or both none. */
/** The volunteers, the RTTs clients measured to them, and the recent workload. */
export class VolunteerRegistry {
  private readonly volunteers = new Map<string, Volunteer>();
  /** Recent RTT samples per peer from clients' requests, ms. */
  private readonly rttSamples = new Map<string, number[]>();
  /** Recent requests: arrival time and lengths, for the planned workload. */
  private readonly arrivals: { atMs: number; inTokens: number; outTokens: number }[] = [];

  constructor(
    private readonly served: ServedModel,
    private readonly network: NetworkDefaults,
    private readonly workload: WorkloadDefaults,
    private readonly now: () => number,
    /** Which keys are still on probation (new: no record yet). */
    readonly probation: ProbationBook = new ProbationBook(),
  ) {}

  /** True while `v`'s key is on probation: placement and routing may trust it less (cap its share of routes, check it more). */
  onProbation(v: Volunteer): boolean {
    return this.probation.onProbation(v.peerId);
  }

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
  }

  /** Forgets a volunteer and its RTT samples; returns it if it was there. */
  delete(peerId: string): Volunteer | undefined {
    const v = this.volunteers.get(peerId);
    this.volunteers.delete(peerId);
    this.rttSamples.delete(peerId);
    return v;
  }

  /** Serves new routes: its ready span is the assigned one and it says it serves. */
  isRoutable(v: Volunteer): boolean {
    return v.servingSpan !== null && sameSpan(v.servingSpan, v.assignedSpan) && v.load.state === 'serving';
  }

  routable(): Volunteer[] {
    return this.all().filter((x) => this.isRoutable(x));
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
    return cacheSlots(memoryBytes, span === null ? 0 : hopSlots(span), this.model.blockBytes, this.model.cacheBytesPerBlock);
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

  /** Records a request's lengths (planned workload) and the RTTs its client measured. */
  noteRequest(request: RouteRequest): void {
    this.arrivals.push({ atMs: this.now(), inTokens: request.promptTokens, outTokens: request.maxNewTokens });
    if (this.arrivals.length > 100) this.arrivals.shift();
    for (const [peer, rtt] of Object.entries(request.rttMs ?? {})) {
      if (!this.volunteers.has(peer)) continue;
      const list = this.rttSamples.get(peer) ?? [];
      list.push(rtt);
      if (list.length > 20) list.shift();
      this.rttSamples.set(peer, list);
    }
  }

  private plannedWorkload(): SwarmSnapshot['workload'] {
    const w = { ...this.workload };
    const recent = this.arrivals;
    if (recent.length > 0) {
      w.meanInputTokens = recent.reduce((a, r) => a + r.inTokens, 0) / recent.length;
      w.meanOutputTokens = Math.max(1, recent.reduce((a, r) => a + r.outTokens, 0) / recent.length);
    }
    const first = recent[0];
    const last = recent[recent.length - 1];
    if (recent.length >= 2 && first !== undefined && last !== undefined && last.atMs > first.atMs) {
      w.arrivalRatePerS = ((recent.length - 1) * 1000) / (last.atMs - first.atMs);
    }
    return w;
  }

  private servers(volunteers: readonly Volunteer[]): ServerSpec[] {
    return volunteers.map((v) => ({
      id: v.peerId,
      memoryBytes: v.memoryBytes,
      decodeMsPerBlock: v.decodeMsPerBlock,
      prefillMsPerBlock: v.prefillMsPerBlock,
    }));
  }

  /**
   * Planner snapshot over `volunteers` with one client: by default a typical one at the median
   * measured RTTs; for a request, its client with the RTTs it reported (the median, else the default, elsewhere).
   */
  planSnapshot(volunteers: readonly Volunteer[], client: { id: string; rttMs?: Record<string, number> } = { id: typicalClientId }): SwarmSnapshot {
    const rtts: Record<string, number> = {};
    for (const v of volunteers) {
      const sampledMs = median(this.rttSamples.get(v.peerId) ?? []);
      rtts[v.peerId] = client.rttMs?.[v.peerId] ?? (Number.isNaN(sampledMs) ? this.network.defaultRttMs : sampledMs);
    }
    return {
      model: this.served.workload,
      servers: this.servers(volunteers),
      clients: [{ id: client.id }],
      network: {
        clientServerRttMs: { [client.id]: rtts },
        messageOverheadMs: this.network.messageOverheadMs,
        prefillOverheadMs: this.network.prefillOverheadMs,
      },
      workload: this.plannedWorkload(),
    };
  }
}
