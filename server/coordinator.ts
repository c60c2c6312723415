// The coordinator: swarm registry, placement on join/leave, route leases and the central queue, dashboard events.
// Transport-free: server.ts wires WebSockets and REST to it. All state is in memory.
import { BouquetError } from '../core/errors/index.ts';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  CoordinatorApiError,
  apiErrorBody,
  type ApiErrorBody,
  type AssignmentReason,
  type CoordinatorToVolunteerMessage,
  type MeasuredTimes,
  type PlacementView,
  type PolicyPrediction,
  type RegisterMessage,
  type RouteGranted,
  type RouteHop,
  type RouteRecord,
  type RouteRequest,
  type RouteResponse,
  type SwarmEvent,
  type SwarmState,
  type VolunteerLoad,
  type VolunteerMessage,
  type VolunteerState,
  type VolunteerView,
  type LeaveReason,
  type DashboardMessage,
  parseVolunteerMessage,
  protocolVersion,
} from '../core/api/index.ts';
import type { BlockSpan, LinearMs, ServerSpec, SwarmSnapshot, TimeBreakdown } from '../core/swarm/index.ts';
import { cacheSlots, type ActiveSession } from '../core/perf/index.ts';
import type { PlacementPolicy, PlacementResult, ServerAssignment } from '../core/placement/index.ts';
import { dispatchChains, wsRrRouting, type RoutingDecision, type RoutingPolicy, type ServerLoad } from '../core/routing/index.ts';
import type { ServedModel } from './models/index.ts';
import { reconcilePlacement, uncoveredBy } from './reconcile.ts';

/** Assumptions the coordinator needs before anything is measured (all documented defaults). */
export interface NetworkDefaults {
  /** RTT assumed client → volunteer when the client reported none, ms. */
  defaultRttMs: number;
  /** Fixed cost of one decode message exchange, ms (loopback data channel echo of 100 B ≈ 0.4 ms). */
  messageOverheadMs: number;
  /** Extra cost of a prefill message, ms: perTokenMs · l_in + fixedMs. */
  prefillOverheadMs: LinearMs;
}

/** The workload placement plans for until route requests have been seen. */
export interface WorkloadDefaults {
  /** λ, requests per second. */
  arrivalRatePerS: number;
  /** Mean prompt length, tokens. */
  meanInputTokens: number;
  /** Mean generated length, tokens. */
  meanOutputTokens: number;
  /** R pinned for BPRR / GBP-CR; derived from λ by the policy when absent. */
  concurrentRequests?: number;
}

/** One policy's predicted per-token time on `snapshot`, or why it has none. */
async function predictWith(name: string, policy: PlacementPolicy, snapshot: SwarmSnapshot): Promise<PolicyPrediction> {
  try {
    const r = await policy(snapshot);
    return { policy: name, perTokenMs: r.prediction.perTokenMs };
  } catch (e) {
    return { policy: name, perTokenMs: null, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Everything the coordinator is configured with. Durations in ms. */
export interface CoordinatorOptions {
  model: ServedModel;
  /** Placement policy in force, and its registry name. */
  placement: { name: string; policy: PlacementPolicy };
  routing: RoutingPolicy;
  /** Policies whose prediction the dashboard compares (the one in force is always included). */
  predictionPolicies?: Record<string, PlacementPolicy>;
  /**
   * Names among `predictionPolicies` that may take seconds (the exact MILP in its thread): shown as
   * pending and filled in when they finish, without holding up placement; one run per policy at a time.
   */
  slowPredictionPolicies?: readonly string[];
  logger: Logger;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Lease length of a granted route; renewals extend by it. */
  leaseMs?: number;
  /** How long a queue ticket lives without being polled, and how long an answer waits for pickup. */
  ticketTtlMs?: number;
  /** Most volunteers that already hold blocks and may be moved in one placement round. */
  maxMovesPerRound?: number;
  /** Joins and leaves within this window share one placement run. */
  placementDelayMs?: number;
  maxQueueLength?: number;
  /** Routes the dashboard keeps. */
  recentRoutes?: number;
  network?: Partial<NetworkDefaults>;
  workload?: Partial<WorkloadDefaults>;
  /** Clock, Unix epoch ms (tests inject one). */
  now?: () => number;
}

/** How the coordinator talks to one volunteer socket. */
export interface VolunteerLink {
  send(message: CoordinatorToVolunteerMessage): void;
  close(code: number, reason: string): void;
}

interface Volunteer {
  peerId: string;
  publicKey: string;
  memoryBytes: number;
  decodeMsPerBlock: number;
  prefillMsPerBlock: LinearMs;
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

interface Lease {
  record: RouteRecord;
  expiresAtMs: number;
  /** Chain identity for JFFC's per-chain session count (full-span leases only). */
  chainKey?: string;
}

interface QueueEntry {
  ticketId: string;
  request: RouteRequest;
  enqueuedAtMs: number;
}

interface Ticket {
  entry: QueueEntry;
  /** Last time the client polled (or enqueued), ms. */
  touchedAtMs: number;
  answer?: RouteResponse;
  waiters: Set<(r: RouteResponse) => void>;
}

/** A listener of swarm events (dashboards). */
export type SwarmListener = (message: DashboardMessage) => void;

/** Handle of one volunteer socket, given to the transport. */
export interface VolunteerConnection {
  /** Feed one message (already JSON-parsed, not yet validated). */
  receive(raw: unknown): void;
  /** The socket closed. */
  closed(): void;
}

const typicalClientId = 'typical-client';

function sameSpan(a: BlockSpan | null, b: BlockSpan | null): boolean {
  if (a === null || b === null) return a === b;
  return a.start === b.start && a.end === b.end;
}

function spanLength(s: BlockSpan | null): number {
  return s === null ? 0 : s.end - s.start;
}

function chainKeyOf(hops: readonly { serverId: string; span: BlockSpan }[]): string {
  return hops.map((h) => `${h.serverId}:${h.span.start}-${h.span.end}`).join('|');
}

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function errorBody(e: unknown): ApiErrorBody {
  return apiErrorBody(e);
}

/**
 * The live coordinator. One instance per server process; state lives in memory, so after a
 * restart volunteers register again (with `loadedSpan`) and clients ask for new routes.
 */
export class Coordinator {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly leaseMs: number;
  private readonly ticketTtlMs: number;
  private readonly maxMoves: number;
  private readonly placementDelayMs: number;
  private readonly maxQueueLength: number;
  private readonly recentRouteCount: number;
  private readonly network: NetworkDefaults;
  private readonly workloadDefaults: WorkloadDefaults;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly failoverRouting = wsRrRouting();

  private readonly volunteers = new Map<string, Volunteer>();
  private readonly leases = new Map<string, Lease>();
  private readonly expiredLeases = new Set<string>();
  private readonly queue: QueueEntry[] = [];
  private readonly tickets = new Map<string, Ticket>();
  private readonly recentRoutes: RouteRecord[] = [];
  private readonly listeners = new Set<SwarmListener>();
  /** Recent RTT samples per peer from clients' requests, ms. */
  private readonly rttSamples = new Map<string, number[]>();
  /** Recent requests: arrival time and lengths, for the planned workload. */
  private readonly arrivals: { atMs: number; inTokens: number; outTokens: number }[] = [];

  private placementView: PlacementView;
  /** Placement policy in force (switchable at run time). */
  private placementPolicy: { name: string; policy: PlacementPolicy };
  private predictions: PolicyPrediction[] = [];
  /** Counts prediction rounds, so a slow policy's answer for an older swarm is not shown as current. */
  private predictionRound = 0;
  /** Slow prediction policies now running, and the latest snapshot each must run on next (if newer). */
  private readonly slowPredictions = new Map<string, { running: Promise<void>; next?: { round: number; snapshot: SwarmSnapshot } }>();
  private placementTimer: ReturnType<typeof setTimeout> | undefined;
  private placementRunning: Promise<void> | undefined;
  private placementDirty = false;
  private routingPlacement: { key: string; placement: PlacementResult; chainKeys: string[] } | undefined;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(private readonly options: CoordinatorOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 2000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 120_000;
    this.ticketTtlMs = options.ticketTtlMs ?? 30_000;
    this.maxMoves = options.maxMovesPerRound ?? 1;
    this.placementDelayMs = options.placementDelayMs ?? 50;
    this.maxQueueLength = options.maxQueueLength ?? 1000;
    this.recentRouteCount = options.recentRoutes ?? 50;
    this.network = {
      defaultRttMs: options.network?.defaultRttMs ?? 20,
      messageOverheadMs: options.network?.messageOverheadMs ?? 1,
      prefillOverheadMs: options.network?.prefillOverheadMs ?? { perTokenMs: 0.01, fixedMs: 2 },
    };
    this.workloadDefaults = {
      arrivalRatePerS: options.workload?.arrivalRatePerS ?? 0.1,
      meanInputTokens: options.workload?.meanInputTokens ?? 32,
      meanOutputTokens: options.workload?.meanOutputTokens ?? 64,
    };
    const pinned = options.workload?.concurrentRequests;
    if (pinned !== undefined) this.workloadDefaults.concurrentRequests = pinned;
    this.now = options.now ?? Date.now;
    this.log = options.logger;
    this.placementPolicy = options.placement;
    this.placementView = {
      policy: options.placement.name,
      perTokenMs: null,
      computedAtMs: this.now(),
      uncoveredBlocks: Array.from({ length: this.model.numBlocks }, (_, i) => i),
    };
    const sweepMs = Math.max(10, Math.min(1000, this.heartbeatTimeoutMs / 4, this.leaseMs / 4, this.ticketTtlMs / 4));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  private get model(): ServedModel['info'] {
    return this.options.model.info;
  }

  /** Stops timers and closes every volunteer socket. */
  stop(): void {
    this.stopped = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    if (this.placementTimer !== undefined) clearTimeout(this.placementTimer);
    for (const v of this.volunteers.values()) v.link.close(1001, 'coordinator shutting down');
    for (const t of this.tickets.values()) {
      for (const w of t.waiters) w({ kind: 'error', error: { code: 'internal', message: 'coordinator shutting down' } });
    }
    this.tickets.clear();
  }

  /** Resolves when no placement run is pending or running (tests use it). */
  async whenSettled(): Promise<void> {
    for (;;) {
      if (this.placementRunning !== undefined) await this.placementRunning;
      else if (this.placementTimer !== undefined) await new Promise((r) => setTimeout(r, this.placementDelayMs));
      else return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Volunteers
  // -------------------------------------------------------------------------------------------

  /** A volunteer socket opened; feed its messages to the returned handle. */
  connectVolunteer(link: VolunteerLink): VolunteerConnection {
    let peerId: string | undefined;
    const registerTimer = setTimeout(() => {
      if (peerId === undefined) link.close(4000, 'no register message within the heartbeat timeout');
    }, this.heartbeatTimeoutMs);
    registerTimer.unref();
    const fail = (error: CoordinatorApiError): void => link.send({ type: 'error', error: error.toWire() });
    return {
      receive: (raw) => {
        const parsed = parseVolunteerMessage(raw);
        if (!parsed.ok) return fail(parsed.error);
        const m = parsed.value;
        if (m.type === 'register') {
          try {
            const previous = peerId;
            peerId = this.register(m, link, previous);
          } catch (e) {
            if (e instanceof CoordinatorApiError) {
              fail(e);
              if (e.code === 'model-mismatch') link.close(4001, e.message);
              return;
            }
            throw e;
          }
          clearTimeout(registerTimer);
          return;
        }
        const v = peerId === undefined ? undefined : this.volunteers.get(peerId);
        if (v === undefined || v.link !== link) {
          return fail(new CoordinatorApiError('not-registered', `send 'register' before '${m.type}'`));
        }
        this.onVolunteerMessage(v, m);
      },
      closed: () => {
        clearTimeout(registerTimer);
        const v = peerId === undefined ? undefined : this.volunteers.get(peerId);
        if (v !== undefined && v.link === link) this.removeVolunteer(v.peerId, 'disconnect');
      },
    };
  }

  private register(m: RegisterMessage, link: VolunteerLink, previousPeerId: string | undefined): string {
    if (m.protocolVersion !== protocolVersion) throw new CoordinatorApiError('version-mismatch', `this coordinator speaks protocol version ${protocolVersion}, not ${m.protocolVersion}: reload the volunteer page`, 'protocolVersion');
    if (m.modelId !== this.model.id) {
      throw new CoordinatorApiError('model-mismatch', `this coordinator serves model '${this.model.id}', not '${m.modelId}'`, 'modelId');
    }
    if (m.loadedSpan !== undefined && m.loadedSpan.end > this.model.numBlocks) {
      throw new CoordinatorApiError('bad-request', `loadedSpan.end must be ≤ ${this.model.numBlocks} (the model's blocks)`, 'loadedSpan.end');
    }
    if (previousPeerId !== undefined && previousPeerId !== m.peerId) this.removeVolunteer(previousPeerId, 'replaced');
    const old = this.volunteers.get(m.peerId);
    if (old !== undefined) {
      this.removeVolunteer(m.peerId, 'replaced', { schedule: false });
      if (old.link !== link) old.link.close(4002, 'replaced by a newer registration of the same peer id');
    }
    const now = this.now();
    const loaded = m.loadedSpan ?? null;
    const v: Volunteer = {
      peerId: m.peerId,
      publicKey: m.publicKey,
      memoryBytes: m.memoryBytes,
      decodeMsPerBlock: m.decodeMsPerBlock,
      prefillMsPerBlock: m.prefillMsPerBlock,
      backend: m.backend,
      link,
      joinedAtMs: now,
      lastHeartbeatAtMs: now,
      load: { activeSessions: 0, freeCacheSlots: 0, state: loaded === null ? 'loading' : 'serving' },
      assignedSpan: loaded,
      servingSpan: loaded,
      assignmentId: 0,
      everAssigned: loaded !== null,
      cacheSlots: this.slotsFor(m.memoryBytes, loaded),
    };
    v.load.freeCacheSlots = v.cacheSlots;
    this.volunteers.set(v.peerId, v);
    link.send({
      type: 'registered',
      peerId: v.peerId,
      model: this.model,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
    });
    if (loaded !== null) this.sendAssignment(v, loaded, 'keep');
    this.log.info({ peerId: v.peerId, memoryBytes: v.memoryBytes, decodeMsPerBlock: v.decodeMsPerBlock, loadedSpan: loaded }, 'volunteer registered');
    this.emit({ type: 'volunteer-joined', volunteer: this.view(v) });
    this.schedulePlacement();
    if (loaded !== null) this.processQueue();
    return v.peerId;
  }

  private onVolunteerMessage(v: Volunteer, m: Exclude<VolunteerMessage, RegisterMessage>): void {
    switch (m.type) {
      case 'heartbeat': {
        v.lastHeartbeatAtMs = this.now();
        const changed =
          v.load.activeSessions !== m.load.activeSessions || v.load.freeCacheSlots !== m.load.freeCacheSlots || v.load.state !== m.load.state;
        const wasRoutable = this.isRoutable(v);
        v.load = m.load;
        if (changed) this.emit({ type: 'volunteer-updated', volunteer: this.view(v) });
        if (wasRoutable !== this.isRoutable(v)) this.processQueue();
        return;
      }
      case 'ready': {
        v.lastHeartbeatAtMs = this.now();
        if (m.assignmentId !== v.assignmentId || !sameSpan(m.span, v.assignedSpan)) {
          this.log.warn({ peerId: v.peerId, got: m, expected: { assignmentId: v.assignmentId, span: v.assignedSpan } }, 'stale ready ignored');
          return;
        }
        v.servingSpan = m.span;
        v.load = { ...v.load, state: 'serving' };
        this.log.info({ peerId: v.peerId, span: m.span }, 'volunteer ready');
        this.emit({ type: 'volunteer-updated', volunteer: this.view(v) });
        this.refreshPlacementView();
        this.processQueue();
        return;
      }
      case 'leave':
        this.removeVolunteer(v.peerId, 'leave');
        v.link.close(1000, 'left');
        return;
      default: {
        const never: never = m;
        throw new BouquetError('internal', `unhandled volunteer message ${JSON.stringify(never)}`);
      }
    }
  }

  private removeVolunteer(peerId: string, reason: LeaveReason, opts: { schedule?: boolean } = {}): void {
    const v = this.volunteers.get(peerId);
    if (v === undefined) return;
    this.volunteers.delete(peerId);
    this.rttSamples.delete(peerId);
    this.log.info({ peerId, reason }, 'volunteer left');
    this.emit({ type: 'volunteer-left', peerId, reason });
    if (opts.schedule ?? true) {
      this.refreshPlacementView();
      this.schedulePlacement();
      this.processQueue();
    }
  }

  private slotsFor(memoryBytes: number, span: BlockSpan | null): number {
    return cacheSlots(memoryBytes, spanLength(span), this.model.blockBytes, this.model.cacheBytesPerBlock);
  }

  private sendAssignment(v: Volunteer, span: BlockSpan | null, reason: AssignmentReason): void {
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
    this.log.info({ peerId: v.peerId, span, reason, assignmentId: v.assignmentId }, 'assignment sent');
  }

  /** Serves new routes: its ready span is the assigned one and it says it serves. */
  private isRoutable(v: Volunteer): boolean {
    return v.servingSpan !== null && sameSpan(v.servingSpan, v.assignedSpan) && v.load.state === 'serving';
  }

  /** Active route leases with a hop on `peerId`. */
  private leasesThrough(peerId: string): number {
    let n = 0;
    for (const l of this.leases.values()) if (l.record.chain.some((h) => h.peerId === peerId)) n++;
    return n;
  }

  private leasedSlots(peerId: string): number {
    let n = 0;
    for (const l of this.leases.values()) for (const h of l.record.chain) if (h.peerId === peerId) n += spanLength(h.span);
    return n;
  }

  private stateOf(v: Volunteer): VolunteerState {
    if (v.assignedSpan !== null && !sameSpan(v.assignedSpan, v.servingSpan)) return 'loading';
    return v.load.state;
  }

  private view(v: Volunteer): VolunteerView {
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
      leasedSlots: this.leasedSlots(v.peerId),
      joinedAtMs: v.joinedAtMs,
      lastHeartbeatAtMs: v.lastHeartbeatAtMs,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Placement
  // -------------------------------------------------------------------------------------------

  private schedulePlacement(): void {
    if (this.stopped) return;
    if (this.placementRunning !== undefined) {
      this.placementDirty = true;
      return;
    }
    if (this.placementTimer !== undefined) return;
    this.placementTimer = setTimeout(() => {
      this.placementTimer = undefined;
      this.placementRunning = this.runPlacement().finally(() => {
        this.placementRunning = undefined;
        if (this.placementDirty) {
          this.placementDirty = false;
          this.schedulePlacement();
        } else {
          this.processQueue(); // requests that waited for this placement: granted, or refused if nothing is coming
        }
      });
    }, this.placementDelayMs);
  }

  private servers(volunteers: readonly Volunteer[]): ServerSpec[] {
    return volunteers.map((v) => ({
      id: v.peerId,
      memoryBytes: v.memoryBytes,
      decodeMsPerBlock: v.decodeMsPerBlock,
      prefillMsPerBlock: v.prefillMsPerBlock,
    }));
  }

  private plannedWorkload(): SwarmSnapshot['workload'] {
    const w = { ...this.workloadDefaults };
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

  /** Planner snapshot over the given volunteers, one typical client with the median measured RTTs. */
  private planSnapshot(volunteers: readonly Volunteer[], client: { id: string; rttMs?: Record<string, number> } = { id: typicalClientId }): SwarmSnapshot {
    const rtts: Record<string, number> = {};
    for (const v of volunteers) {
      rtts[v.peerId] = client.rttMs?.[v.peerId] ?? median(this.rttSamples.get(v.peerId) ?? []) ?? this.network.defaultRttMs;
    }
    return {
      model: this.options.model.workload,
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

  private maxBlocks(memoryBytes: number): number {
    const perBlock = this.model.blockBytes + this.model.cacheBytesPerBlock;
    return Math.min(this.model.numBlocks, Math.floor(memoryBytes / perBlock));
  }

  private async runPlacement(): Promise<void> {
    const volunteers = [...this.volunteers.values()];
    if (volunteers.length === 0) {
      this.placementView = { policy: this.placementPolicy.name, perTokenMs: null, computedAtMs: this.now(), uncoveredBlocks: this.uncovered() };
      this.emit({ type: 'placement', placement: this.placementView, moved: [] });
      return;
    }
    const snapshot = this.planSnapshot(volunteers);
    let result: PlacementResult | undefined;
    let error: ApiErrorBody | undefined;
    try {
      result = await this.placementPolicy.policy(snapshot);
    } catch (e) {
      error = errorBody(e);
      this.log.warn({ error }, 'placement policy failed; keeping spans and filling gaps greedily');
    }
    if (this.stopped) return;
    const proposed = new Map<string, BlockSpan | null>((result?.assignments ?? []).map((a) => [a.serverId, a.span]));
    const present = volunteers.filter((v) => this.volunteers.get(v.peerId) === v);
    const decision = reconcilePlacement(
      present.map((v) => ({
        peerId: v.peerId,
        current: v.assignedSpan,
        isNew: !v.everAssigned,
        proposed: result === undefined ? undefined : (proposed.get(v.peerId) ?? null),
        maxBlocks: this.maxBlocks(v.memoryBytes),
        activeSessions: this.leasesThrough(v.peerId),
      })),
      this.model.numBlocks,
      this.maxMoves,
    );
    for (const c of decision.changes) {
      const v = this.volunteers.get(c.peerId);
      if (v !== undefined) this.sendAssignment(v, c.span, c.reason);
    }
    this.placementView = {
      policy: this.placementPolicy.name,
      perTokenMs: result?.prediction.perTokenMs ?? null,
      computedAtMs: this.now(),
      uncoveredBlocks: this.uncovered(),
    };
    if (error !== undefined) this.placementView.error = error;
    this.log.info(
      { policy: this.placementPolicy.name, changes: decision.changes, moved: decision.moved, uncovered: this.placementView.uncoveredBlocks },
      'placement applied',
    );
    this.emit({ type: 'placement', placement: this.placementView, moved: decision.moved });
    for (const c of decision.changes) {
      const v = this.volunteers.get(c.peerId);
      if (v !== undefined) this.emit({ type: 'volunteer-updated', volunteer: this.view(v) });
    }
    this.processQueue();
    await this.updatePredictions(snapshot, result);
  }

  /**
   * Switches the placement policy in force and re-places every volunteer by it (all that differ
   * move, reason 'rebalance'). Throws CoordinatorApiError 'infeasible' (the old policy stays) when
   * the new one cannot place the current swarm.
   */
  async switchPlacementPolicy(name: string, policy: PlacementPolicy): Promise<{ placement: PlacementView; moved: string[] }> {
    // Run exclusively with the join/leave placements (and with another switch).
    for (;;) {
      await this.whenSettled();
      if (this.placementRunning === undefined && this.placementTimer === undefined) break;
    }
    let release: () => void = () => undefined;
    this.placementRunning = new Promise<void>((r) => (release = r));
    try {
      const volunteers = [...this.volunteers.values()];
      let result: PlacementResult | undefined;
      const snapshot = this.planSnapshot(volunteers);
      if (volunteers.length > 0) {
        try {
          result = await policy(snapshot);
        } catch (e) {
          const body = errorBody(e);
          throw new CoordinatorApiError(body.code, `placement policy '${name}' cannot place the current swarm: ${body.message}`, body.field, body.data);
        }
      }
      this.placementPolicy = { name, policy };
      const moved: string[] = [];
      for (const a of result?.assignments ?? []) {
        const v = this.volunteers.get(a.serverId);
        if (v === undefined || sameSpan(v.assignedSpan, a.span)) continue;
        if (v.assignedSpan !== null) moved.push(v.peerId);
        this.sendAssignment(v, a.span, a.span === null ? 'idle' : 'rebalance');
      }
      this.placementView = {
        policy: name,
        perTokenMs: result?.prediction.perTokenMs ?? null,
        computedAtMs: this.now(),
        uncoveredBlocks: this.uncovered(),
      };
      this.log.info({ policy: name, moved }, 'placement policy switched');
      this.emit({ type: 'placement', placement: this.placementView, moved });
      for (const v of this.volunteers.values()) this.emit({ type: 'volunteer-updated', volunteer: this.view(v) });
      this.processQueue();
      if (volunteers.length > 0) await this.updatePredictions(snapshot, result);
      return { placement: this.placementView, moved };
    } finally {
      this.placementRunning = undefined;
      release();
      if (this.placementDirty) {
        this.placementDirty = false;
        this.schedulePlacement();
      } else {
        this.processQueue();
      }
    }
  }

  private async updatePredictions(snapshot: SwarmSnapshot, inForce: PlacementResult | undefined): Promise<void> {
    const policies = this.options.predictionPolicies ?? {};
    const slow = new Set(this.options.slowPredictionPolicies ?? []);
    const round = ++this.predictionRound;
    const out: PolicyPrediction[] = [];
    const inForceName = this.placementPolicy.name;
    out.push(
      inForce === undefined
        ? { policy: inForceName, perTokenMs: null, error: this.placementView.error?.message ?? 'no placement' }
        : { policy: inForceName, perTokenMs: inForce.prediction.perTokenMs },
    );
    const others = Object.entries(policies).filter(([name]) => name !== inForceName);
    for (const [name, policy] of others) if (!slow.has(name)) out.push(await predictWith(name, policy, snapshot));
    if (this.stopped || round !== this.predictionRound) return;
    // Started only now, after the last await: a slow answer always lands on this round's list.
    for (const [name, policy] of others) {
      if (!slow.has(name)) continue;
      out.push({ policy: name, perTokenMs: null, pending: true });
      this.startSlowPrediction(name, policy, round, snapshot);
    }
    this.predictions = out;
    this.emit({ type: 'predictions', predictions: out });
  }

  /** Runs a slow policy's prediction in the background; a round that arrives meanwhile runs after it, older ones are dropped. */
  private startSlowPrediction(name: string, policy: PlacementPolicy, round: number, snapshot: SwarmSnapshot): void {
    const busy = this.slowPredictions.get(name);
    if (busy !== undefined) {
      busy.next = { round, snapshot };
      return;
    }
    const running = predictWith(name, policy, snapshot).then((p) => {
      const next = this.slowPredictions.get(name)?.next;
      this.slowPredictions.delete(name);
      if (this.stopped) return;
      if (round === this.predictionRound) {
        this.predictions = this.predictions.map((q) => (q.policy === name ? p : q));
        this.emit({ type: 'predictions', predictions: this.predictions });
      }
      if (next !== undefined && next.round === this.predictionRound) this.startSlowPrediction(name, policy, next.round, next.snapshot);
    });
    this.slowPredictions.set(name, { running });
  }

  /** Resolves once no slow prediction is running (tests and shutdown use it). */
  async whenPredicted(): Promise<void> {
    while (this.slowPredictions.size > 0) await Promise.all([...this.slowPredictions.values()].map((s) => s.running));
  }

  private uncovered(): number[] {
    return uncoveredBy(
      [...this.volunteers.values()].map((v) => v.assignedSpan),
      this.model.numBlocks,
    );
  }

  private refreshPlacementView(): void {
    this.placementView = { ...this.placementView, uncoveredBlocks: this.uncovered() };
  }

  // -------------------------------------------------------------------------------------------
  // Routes
  // -------------------------------------------------------------------------------------------

  /** The placement routes are computed on: routable volunteers with their ready spans; cached while unchanged. */
  private currentRoutingPlacement(): { placement: PlacementResult; chainKeys: string[] } {
    const routable = [...this.volunteers.values()].filter((v) => this.isRoutable(v));
    const key = routable.map((v) => `${v.peerId}:${chainKeyOf([{ serverId: v.peerId, span: v.servingSpan ?? { start: 0, end: 0 } }])}:${v.cacheSlots}`).join(',');
    if (this.routingPlacement?.key === key) return this.routingPlacement;
    const assignments: ServerAssignment[] = routable.map((v) => ({ serverId: v.peerId, span: v.servingSpan, cacheSlots: v.cacheSlots }));
    const breakdown: TimeBreakdown = { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 };
    const placement: PlacementResult = {
      policy: this.placementPolicy.name,
      assignments,
      prediction: { perTokenMs: this.placementView.perTokenMs ?? 0, breakdown },
      runtimeMs: 0,
    };
    // Chains JFFC dispatches on, fixed here so our per-chain session counts index the same list.
    let chainKeys: string[] = [];
    if (assignments.length > 0) {
      try {
        placement.chains = dispatchChains(this.planSnapshot(routable), placement);
        chainKeys = placement.chains.map((c) => chainKeyOf(c.chain.hops));
      } catch (e) {
        this.log.warn({ error: errorBody(e) }, 'no dispatch chains for the current spans');
      }
    }
    this.routingPlacement = { key, placement, chainKeys };
    return this.routingPlacement;
  }

  private serverLoads(placement: PlacementResult): Map<string, ServerLoad> {
    const held = new Map<string, ActiveSession[]>();
    for (const l of this.leases.values()) {
      const end = l.record.grantedAtMs + l.record.predicted.totalMs;
      for (const h of l.record.chain) {
        const list = held.get(h.peerId) ?? [];
        list.push({ slots: spanLength(h.span), expectedEndMs: end });
        held.set(h.peerId, list);
      }
    }
    const loads = new Map<string, ServerLoad>();
    for (const a of placement.assignments) {
      const sessions = held.get(a.serverId) ?? [];
      const used = sessions.reduce((s, x) => s + x.slots, 0);
      loads.set(a.serverId, { online: true, freeSlots: Math.max(0, a.cacheSlots - used), sessions });
    }
    return loads;
  }

  /** Decides one request now: a chain to grant, wait in the queue, or an error. */
  private decide(request: RouteRequest): { kind: 'grant'; hops: RouteHop[]; predicted: TimeBreakdown; chainKey?: string } | { kind: 'queue' } | { kind: 'error'; error: ApiErrorBody } {
    const { placement, chainKeys } = this.currentRoutingPlacement();
    const L = this.model.numBlocks;
    const span = request.span ?? { start: 0, end: L };
    const banned = new Map((request.excludePeers ?? []).map((p) => [p, Infinity]));
    const routable = [...this.volunteers.values()].filter((v) => this.isRoutable(v));
    const swarm = this.planSnapshot(routable, { id: request.clientId, rttMs: request.rttMs ?? {} });
    const loads = this.serverLoads(placement);
    const core = { clientId: request.clientId, inputTokens: request.promptTokens, outputTokens: request.maxNewTokens };
    const fullSpan = span.start === 0 && span.end === L;
    let decision: RoutingDecision;
    let shift = 0;
    if (fullSpan) {
      const chainSessions = chainKeys.map((k) => {
        let n = 0;
        for (const l of this.leases.values()) if (l.chainKey === k) n += 1;
        return n;
      });
      decision = this.options.routing.route(
        { swarm, placement, state: { nowMs: this.now(), servers: loads, bannedUntilMs: banned, chainSessions } },
        core,
      );
    } else {
      // Failover for blocks [a, b): WS-RR (free-slot-aware shortest path) on the spans clipped to
      // [a, b) and shifted to start at 0 — JFFC's chains cover [0, L) only.
      shift = span.start;
      const clipped: ServerAssignment[] = [];
      for (const a of placement.assignments) {
        if (a.span === null) continue;
        const start = Math.max(a.span.start, span.start);
        const end = Math.min(a.span.end, span.end);
        if (end > start) clipped.push({ ...a, span: { start: start - shift, end: end - shift } });
      }
      const sub: PlacementResult = { ...placement, assignments: clipped, chains: [] };
      const subSwarm: SwarmSnapshot = { ...swarm, model: { ...swarm.model, numBlocks: span.end - span.start } };
      decision = this.failoverRouting.route({ swarm: subSwarm, placement: sub, state: { nowMs: this.now(), servers: loads, bannedUntilMs: banned } }, core);
    }
    switch (decision.kind) {
      case 'route': {
        if (decision.expectedWaitMs > 0 && (!fullSpan || this.options.routing.admission.kind !== 'fail-and-retry')) return { kind: 'queue' };
        const hops = decision.chain.hops.map((h) => ({ peerId: h.serverId, span: { start: h.span.start + shift, end: h.span.end + shift } }));
        const out: { kind: 'grant'; hops: RouteHop[]; predicted: TimeBreakdown; chainKey?: string } = { kind: 'grant', hops, predicted: decision.predicted };
        if (fullSpan) out.chainKey = chainKeyOf(decision.chain.hops);
        return out;
      }
      case 'queue':
        return { kind: 'queue' };
      case 'no-route':
        // A volunteer is loading the missing blocks (or a placement that may move one is under way):
        // the request waits in the queue for it rather than failing while the swarm heals itself.
        if (this.coverageComing(span, new Set(banned.keys()))) return { kind: 'queue' };
        return { kind: 'error', error: { code: 'no-route', message: `no route for blocks [${span.start}, ${span.end}): ${decision.reason}` } };
      default: {
        const never: never = decision;
        return never;
      }
    }
  }

  /**
   * Whether blocks `span` will be routable without the `excluded` peers soon: a placement run is
   * pending or running (it may move a volunteer there), or volunteers now loading their assigned
   * spans will cover them together with the serving ones.
   */
  private coverageComing(span: BlockSpan, excluded: ReadonlySet<string>): boolean {
    if (this.placementTimer !== undefined || this.placementRunning !== undefined) return true;
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

  private validateRequest(request: RouteRequest): void {
    if (request.modelId !== undefined && request.modelId !== this.model.id) {
      throw new CoordinatorApiError('model-mismatch', `this coordinator serves model '${this.model.id}', not '${request.modelId}'`, 'modelId');
    }
    if (request.span !== undefined && request.span.end > this.model.numBlocks) {
      throw new CoordinatorApiError('bad-request', `span.end must be ≤ ${this.model.numBlocks} (the model's blocks)`, 'span.end');
    }
    if (request.promptTokens + request.maxNewTokens > this.model.maxSessionTokens) {
      throw new CoordinatorApiError(
        'bad-request',
        `promptTokens + maxNewTokens must be ≤ ${this.model.maxSessionTokens}, the session length volunteers size their cache for`,
        'maxNewTokens',
      );
    }
  }

  private noteRequest(request: RouteRequest): void {
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

  /** A client asks for a route: granted now, queued (poll the ticket), or refused. */
  requestRoute(request: RouteRequest): RouteResponse {
    try {
      this.validateRequest(request);
    } catch (e) {
      return { kind: 'error', error: errorBody(e) };
    }
    this.noteRequest(request);
    const now = this.now();
    if (this.queue.length === 0) {
      const d = this.decide(request);
      if (d.kind === 'grant') return this.grant(request, d, 0);
      if (d.kind === 'error') return { kind: 'error', error: d.error };
    }
    if (this.queue.length >= this.maxQueueLength) {
      return { kind: 'error', error: { code: 'queue-full', message: `the central queue holds ${this.queue.length} requests; retry later` } };
    }
    const entry: QueueEntry = { ticketId: randomUUID(), request, enqueuedAtMs: now };
    this.queue.push(entry);
    this.tickets.set(entry.ticketId, { entry, touchedAtMs: now, waiters: new Set() });
    this.log.info({ clientId: request.clientId, ticketId: entry.ticketId, position: this.queue.length }, 'route request queued');
    this.emit({ type: 'queue', queueLength: this.queue.length });
    // The queue may have been non-empty only because its head was stuck: try it now.
    this.processQueue();
    return this.ticketAnswer(entry.ticketId) ?? { kind: 'error', error: { code: 'internal', message: 'ticket vanished' } };
  }

  private ticketAnswer(ticketId: string): RouteResponse | undefined {
    const t = this.tickets.get(ticketId);
    if (t === undefined) return undefined;
    if (t.answer !== undefined) return t.answer;
    const position = this.queue.indexOf(t.entry) + 1;
    return { kind: 'queued', ticketId, position: Math.max(1, position), queueLength: Math.max(1, this.queue.length) };
  }

  /**
   * Answer for a queue ticket: the route once granted, else the current position. With `waitMs`
   * > 0 it waits up to that long for the route (long poll).
   */
  async pollTicket(ticketId: string, waitMs = 0): Promise<RouteResponse> {
    const t = this.tickets.get(ticketId);
    if (t === undefined) {
      return { kind: 'error', error: { code: 'unknown-ticket', message: `no queue ticket '${ticketId}' (never issued, or answered and forgotten)` } };
    }
    t.touchedAtMs = this.now();
    if (t.answer !== undefined || waitMs <= 0) return this.ticketAnswer(ticketId) ?? { kind: 'error', error: { code: 'unknown-ticket', message: 'ticket vanished' } };
    return new Promise<RouteResponse>((resolve) => {
      const timer = setTimeout(() => {
        t.waiters.delete(done);
        t.touchedAtMs = this.now();
        resolve(this.ticketAnswer(ticketId) ?? { kind: 'error', error: { code: 'unknown-ticket', message: 'ticket expired' } });
      }, waitMs);
      const done = (r: RouteResponse): void => {
        clearTimeout(timer);
        resolve(r);
      };
      t.waiters.add(done);
    });
  }

  private answerTicket(entry: QueueEntry, answer: RouteResponse): void {
    const t = this.tickets.get(entry.ticketId);
    if (t === undefined) return;
    t.answer = answer;
    t.touchedAtMs = this.now();
    for (const w of t.waiters) w(answer);
    t.waiters.clear();
  }

  /** Hands freed capacity to the queue head, in FIFO order, until the head must wait. */
  private processQueue(): void {
    let changed = false;
    while (this.queue.length > 0 && !this.stopped) {
      const head = this.queue[0] as QueueEntry;
      const d = this.decide(head.request);
      if (d.kind === 'queue') break;
      this.queue.shift();
      changed = true;
      if (d.kind === 'grant') this.answerTicket(head, this.grant(head.request, d, this.now() - head.enqueuedAtMs));
      else this.answerTicket(head, { kind: 'error', error: d.error });
    }
    if (changed) this.emit({ type: 'queue', queueLength: this.queue.length });
  }

  private grant(request: RouteRequest, d: { hops: RouteHop[]; predicted: TimeBreakdown; chainKey?: string }, queuedMs: number): RouteGranted {
    const now = this.now();
    const leaseId = randomUUID();
    const record: RouteRecord = {
      leaseId,
      clientId: request.clientId,
      chain: d.hops,
      policy: request.span === undefined || (request.span.start === 0 && request.span.end === this.model.numBlocks) ? this.options.routing.name : 'ws-rr (failover)',
      promptTokens: request.promptTokens,
      maxNewTokens: request.maxNewTokens,
      predicted: d.predicted,
      queuedMs,
      grantedAtMs: now,
      outcome: 'active',
    };
    const lease: Lease = { record, expiresAtMs: now + this.leaseMs };
    if (d.chainKey !== undefined) lease.chainKey = d.chainKey;
    this.leases.set(leaseId, lease);
    this.remember(record);
    this.log.info({ leaseId, clientId: request.clientId, chain: d.hops, predictedMs: d.predicted.totalMs, queuedMs }, 'route granted');
    this.emitRoute(record);
    return {
      kind: 'route',
      leaseId,
      chain: d.hops,
      expiresAtMs: lease.expiresAtMs,
      leaseMs: this.leaseMs,
      predicted: d.predicted,
      policy: record.policy,
      modelId: this.model.id,
    };
  }

  private remember(record: RouteRecord): void {
    this.recentRoutes.push(record);
    while (this.recentRoutes.length > this.recentRouteCount) this.recentRoutes.shift();
  }

  private emitRoute(record: RouteRecord): void {
    this.emit({ type: 'route', route: { ...record }, queueLength: this.queue.length, activeLeases: this.leases.size });
  }

  private endLease(leaseId: string, outcome: 'released' | 'expired', measured?: MeasuredTimes): void {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) return;
    this.leases.delete(leaseId);
    lease.record.outcome = outcome;
    lease.record.endedAtMs = this.now();
    if (measured !== undefined) lease.record.measured = measured;
    if (outcome === 'expired') {
      this.expiredLeases.add(leaseId);
      if (this.expiredLeases.size > 10_000) {
        const first = this.expiredLeases.values().next();
        if (first.done !== true) this.expiredLeases.delete(first.value);
      }
    }
    this.log.info({ leaseId, outcome, measured }, 'lease ended');
    this.emitRoute(lease.record);
    this.processQueue();
  }

  private leaseError(leaseId: string): CoordinatorApiError {
    return this.expiredLeases.has(leaseId)
      ? new CoordinatorApiError('lease-expired', `lease '${leaseId}' expired before it was released or renewed; its slots were freed`)
      : new CoordinatorApiError('unknown-lease', `no active lease '${leaseId}' (never granted, or already released)`);
  }

  /** Frees a lease's slots (and records the measured times for the dashboard). Throws CoordinatorApiError. */
  release(leaseId: string, measured?: MeasuredTimes): void {
    if (!this.leases.has(leaseId)) throw this.leaseError(leaseId);
    this.endLease(leaseId, 'released', measured);
  }

  /** Extends a lease by `leaseMs`; returns the new expiry (epoch ms). Throws CoordinatorApiError. */
  renew(leaseId: string): number {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw this.leaseError(leaseId);
    lease.expiresAtMs = this.now() + this.leaseMs;
    return lease.expiresAtMs;
  }

  // -------------------------------------------------------------------------------------------
  // Timers, state, events
  // -------------------------------------------------------------------------------------------

  /** Expires silent volunteers, lapsed leases and abandoned tickets. Runs on a timer; tests may call it. */
  sweep(): void {
    if (this.stopped) return;
    const now = this.now();
    for (const v of [...this.volunteers.values()]) {
      if (now - v.lastHeartbeatAtMs > this.heartbeatTimeoutMs) {
        this.removeVolunteer(v.peerId, 'timeout');
        v.link.close(4003, `no heartbeat for ${this.heartbeatTimeoutMs} ms`);
      }
    }
    for (const [id, l] of [...this.leases]) if (l.expiresAtMs <= now) this.endLease(id, 'expired');
    let queueChanged = false;
    for (const [id, t] of [...this.tickets]) {
      if (now - t.touchedAtMs <= this.ticketTtlMs) continue;
      if (t.waiters.size > 0) continue;
      this.tickets.delete(id);
      const i = this.queue.indexOf(t.entry);
      if (i >= 0) {
        this.queue.splice(i, 1);
        queueChanged = true;
      }
    }
    if (queueChanged) {
      this.emit({ type: 'queue', queueLength: this.queue.length });
      this.processQueue();
    }
  }

  /** The whole swarm state, for dashboards. */
  state(): SwarmState {
    return {
      atMs: this.now(),
      model: this.model,
      routingPolicy: this.options.routing.name,
      placement: this.placementView,
      volunteers: [...this.volunteers.values()].map((v) => this.view(v)),
      predictions: this.predictions,
      recentRoutes: this.recentRoutes.map((r) => ({ ...r })),
      queueLength: this.queue.length,
      activeLeases: this.leases.size,
    };
  }

  /** Subscribes a dashboard: it gets a snapshot now, then every event. Returns the unsubscribe function. */
  subscribe(listener: SwarmListener): () => void {
    listener({ type: 'snapshot', state: this.state() });
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: SwarmEvent): void {
    const message: DashboardMessage = { type: 'event', atMs: this.now(), event };
    for (const l of this.listeners) {
      try {
        l(message);
      } catch (e) {
        this.log.warn({ error: errorBody(e) }, 'dashboard listener failed');
      }
    }
  }
}
