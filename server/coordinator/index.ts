// The live coordinator: a thin shell over core/dispatch wiring the registry, placement loop, leases and tickets, predictions and events.
// Transport-free: server.ts wires WebSockets and REST to it. All state is in memory.
import type { Logger } from 'pino';
import {
  CoordinatorApiError,
  type MeasuredTimes,
  type PlacementView,
  type RouteGranted,
  type RouteRequest,
  type RouteResponse,
  type SwarmState,
  type VolunteerView,
} from '../../core/api/index.ts';
import { CoordinatorKey } from '../identity/index.ts';
import type { PlacementPolicy } from '../../core/placement/index.ts';
import { serveQueue } from '../../core/dispatch/index.ts';
import { EventHub } from './events.ts';
import { LeaseBook, TicketQueue, type Grant } from './leases.ts';
import { networkDefaults, workloadDefaults, type CoordinatorOptions, type SwarmListener, type VolunteerConnection, type VolunteerLink } from './options.ts';
import { PlacementLoop } from './placement-loop.ts';
import { Predictions } from './predictions.ts';
import { VolunteerRegistry, type Volunteer } from './registry.ts';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import type { ScenarioInputs } from '../scenario-export.ts';
import { RouteDecider } from './routes.ts';
import { VolunteerSockets } from './volunteer-sockets.ts';
import { LoopLag, type LoopLagReport } from './loop-lag.ts';
import { checkQuota, defaultFairUseLimits, holderKeys, Holdings, type FairUseLimits } from './fair-use.ts';
import type { RouteRecord, VerifyEvidence, VerifyVerdict } from '../../core/api/index.ts';
import { VerifiedResults } from './verified-results.ts';
import { checkRouteRequest, grantAnswer } from './route-grants.ts';

export type { LoopLagReport } from './loop-lag.ts';
export { maxSlotsPerVolunteer, maxWorkloadShareRequests, maxRttClients } from './registry.ts';
export { VolunteerRecords, clientInfluence, maxReportingClients, probationLeases } from './records.ts';
export {
  OverheadCalibration, calibrationReport, computeRatio, decodeMsPerToken, calibrationWindow, maxCalibrationReportsPerClient, maxCalibratedClients, maxComputeRatio,
  type CalibrationReport, type ReportedHop,
} from './calibration.ts';
export { networkDefaults } from './options.ts';
export { defaultFairUseLimits, type FairUseLimits } from './fair-use.ts';
export { BanList, judgeEvidence, maxBannedKeys, type StepRecomputer, type JudgeDeps } from './verdicts.ts';
export { BanStore, bansFile, maxBanFileBytes, maxBanReasonChars, parseBanRecord, type BanRecord } from './ban-store.ts';
export { inProcessRecomputer } from './recompute.ts';
export type { VerifyOptions } from './options.ts';

export type { CoordinatorOptions, NetworkDefaults, WorkloadDefaults, VolunteerLink, VolunteerConnection, SwarmListener } from './options.ts';

/**
 * The live coordinator. One instance per server process; state lives in memory, so after a
 * restart volunteers register again (with `loadedSpan`) and clients ask for new routes.
 */
export class Coordinator {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly leaseMs: number;
  private readonly maxQueueLength: number;
  private readonly recentRouteCount: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly registry: VolunteerRegistry;
  private readonly leases: LeaseBook;
  private readonly tickets: TicketQueue;
  private readonly events: EventHub;
  private readonly predictions: Predictions;
  private readonly placement: PlacementLoop;
  private readonly routes: RouteDecider;
  private readonly sockets: VolunteerSockets;
  private readonly verified: VerifiedResults;
  private readonly recentRoutes: RouteRecord[] = [];
  // Fair use: leases and queue entries per client id and address, and the keys each request counts under.
  private readonly fairUse: FairUseLimits;
  private readonly leaseHoldings = new Holdings((id) => this.leases.has(id));
  private readonly queueHoldings = new Holdings((id) => this.tickets.answerOf(id)?.kind === 'queued');
  private readonly holderKeysOf = new WeakMap<RouteRequest, string[]>();
  /** Signs leases and derives their secrets; from the state dir, so it survives a restart. */
  readonly key: CoordinatorKey;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Time this process's event loop lost: subtracted from volunteers' silences. */
  private readonly loopLag = new LoopLag();
  private lastLag: LoopLagReport = { recentMaxMs: 0, lostMs: 0 };

  constructor(private readonly options: CoordinatorOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 2000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 120_000;
    const ticketTtlMs = options.ticketTtlMs ?? 30_000;
    this.maxQueueLength = options.maxQueueLength ?? 1000;
    this.recentRouteCount = options.recentRoutes ?? 50;
    this.fairUse = { ...defaultFairUseLimits, ...options.fairUse };
    this.now = options.now ?? Date.now;
    this.log = options.logger;
    this.key = options.key ?? CoordinatorKey.ephemeral();
    this.registry = new VolunteerRegistry(
      options.model, networkDefaults(options.network), workloadDefaults(options.workload), this.now, (id, exceptClientId) => this.leases.through(id, exceptClientId), options.cacheReservation === 'declared',
    );
    this.leases = new LeaseBook(this.leaseMs, this.now);
    this.tickets = new TicketQueue(ticketTtlMs, this.now);
    this.events = new EventHub(this.now, this.log);
    this.predictions = new Predictions(options.predictionPolicies ?? {}, new Set(options.slowPredictionPolicies ?? []), this.events);
    this.placement = new PlacementLoop(options.placement, {
      registry: this.registry,
      leases: this.leases,
      events: this.events,
      predictions: this.predictions,
      log: this.log,
      now: this.now,
      maxMoves: options.maxMovesPerRound ?? 1,
      rebalance: options.rebalance ?? false,
      placementDelayMs: options.placementDelayMs ?? 50,
      onPlaced: () => this.processQueue(),
      view: (v) => this.view(v),
    });
    this.sockets = new VolunteerSockets({
      registry: this.registry,
      leases: this.leases,
      events: this.events,
      placement: this.placement,
      key: this.key,
      loopLag: this.loopLag,
      log: this.log,
      now: this.now,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
      reconnectGraceMs: options.reconnectGraceMs ?? Math.min(2000, this.heartbeatTimeoutMs / 2),
      keyBoundPeerIds: options.keyBoundPeerIds ?? true,
      processQueue: () => this.processQueue(),
      view: (v) => this.view(v),
      onAdopted: (record) => this.recordRoute(record),
      isBanned: (peerId) => this.verified.isBanned(peerId),
    });
    this.verified = new VerifiedResults(this.registry, options.model.shape.hiddenSize, options.model.folder, options.verify ?? {}, {
      onBanned: (peerId, message) => {
        const v = this.registry.get(peerId);
        this.log.warn({ peerId, message }, 'volunteer banned: a wrong result, confirmed by recomputation');
        this.sockets.remove(peerId, 'banned');
        v?.link.close(4004, 'banned: a wrong result, confirmed by recomputation');
      },
    }, this.now, options.bans);
    this.routes = new RouteDecider(options.routing, this.registry, this.leases, this.placement, this.log, this.now, options.cacheReservation);
    const sweepMs = Math.max(10, Math.min(1000, this.heartbeatTimeoutMs / 4, this.leaseMs / 4, ticketTtlMs / 4));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  private get model(): SwarmState['model'] {
    return this.registry.model;
  }

  /** Stops timers and closes every volunteer socket. */
  stop(): void {
    this.stopped = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.loopLag.stop();
    this.placement.stop();
    this.predictions.stop();
    for (const v of this.registry.all()) v.link.close(1001, 'coordinator shutting down');
    this.tickets.closeAll({ kind: 'error', error: { code: 'internal', message: 'coordinator shutting down' } });
  }

  /** Resolves when no placement run is pending or running (tests use it). */
  whenSettled(): Promise<void> {
    return this.placement.settled();
  }

  /** Resolves once no slow prediction is running (tests and shutdown use it). */
  whenPredicted(): Promise<void> {
    return this.predictions.settled();
  }

  // Volunteers ---------------------------------------------------------------------------------

  /**
   * A volunteer socket opened; feed its messages to the returned handle. `challenged`: the nonce
   * the socket already got (it moved here from another model's coordinator), else a new challenge is sent.
   */
  connectVolunteer(link: VolunteerLink, challenged?: string): VolunteerConnection {
    return this.sockets.connect(link, challenged);
  }

  private view(v: Volunteer): VolunteerView {
    return this.registry.view(v, this.leases.slotsOn(v.peerId));
  }

  // Placement ----------------------------------------------------------------------------------

  /**
   * Switches the placement policy in force and re-places every volunteer by it (all that differ
   * move, reason 'rebalance'). Throws CoordinatorApiError with the policy's own code (the old
   * policy stays) when the new one cannot place the current swarm.
   */
  switchPlacementPolicy(name: string, policy: PlacementPolicy): Promise<{ placement: PlacementView; moved: string[] }> {
    return this.placement.switchTo({ name, policy });
  }

  // Routes -------------------------------------------------------------------------------------

  /**
   * A client asks for a route: granted now, queued (poll the ticket), or refused. `from.address`
   * (a remote address key, server/auth's addressKey) adds the per-address caps to the per-client ones.
   */
  requestRoute(request: RouteRequest, from: { address?: string } = {}): RouteResponse {
    const keys = holderKeys(request.clientId, from.address);
    const f = this.fairUse;
    try {
      checkRouteRequest(request, this.model);
      checkQuota(this.leaseHoldings, keys, { client: f.maxLeasesPerClient, address: f.maxLeasesPerAddress }, 'leases');
    } catch (e) {
      if (e instanceof CoordinatorApiError) return { kind: 'error', error: e.toWire() };
      throw e;
    }
    this.holderKeysOf.set(request, keys);
    this.registry.noteRtts(request);
    // FIFO: while anyone waits in the central queue, a newcomer joins its tail.
    if (this.tickets.length === 0) {
      const d = this.routes.decide(request);
      if (d.kind === 'grant') return this.grant(request, d, 0);
      if (d.kind === 'error') return { kind: 'error', error: d.error };
    }
    // Optional work (a verified-results check) is granted now or not at all: it never queues ahead of real requests.
    if (request.noQueue === true) {
      return { kind: 'error', error: { code: 'queue-full', message: 'no free chain for this span now, and this request asked not to queue' } };
    }
    if (this.tickets.length >= this.maxQueueLength) {
      return { kind: 'error', error: { code: 'queue-full', message: `the central queue holds ${this.tickets.length} requests; retry later` } };
    }
    try {
      checkQuota(this.queueHoldings, keys, { client: f.maxQueuedPerClient, address: f.maxQueuedPerAddress }, 'queue entries');
    } catch (e) {
      if (e instanceof CoordinatorApiError) return { kind: 'error', error: e.toWire() };
      throw e;
    }
    const entry = this.tickets.enqueue(request);
    for (const k of keys) this.queueHoldings.add(k, entry.ticketId);
    this.log.info({ clientId: request.clientId, ticketId: entry.ticketId, position: this.tickets.length }, 'route request queued');
    this.events.emit({ type: 'queue', queueLength: this.tickets.length });
    // The queue may have been non-empty only because its head was stuck: try it now.
    this.processQueue();
    return this.tickets.answerOf(entry.ticketId) ?? { kind: 'error', error: { code: 'internal', message: 'ticket vanished' } };
  }

  /**
   * Answer for a queue ticket: the route once granted, else the current position. With `waitMs`
   * > 0 it waits up to that long for the route (long poll).
   */
  pollTicket(ticketId: string, waitMs = 0): Promise<RouteResponse> {
    return this.tickets.poll(ticketId, waitMs);
  }

  /** Hands freed capacity to the queue head, in FIFO order, until the head must wait (core/dispatch's serveQueue). */
  private processQueue(): void {
    if (this.stopped) return;
    const served = serveQueue(this.tickets.queue, (head) => {
      const d = this.routes.decide(head.request);
      if (d.kind === 'queue') return 'wait';
      if (d.kind === 'grant') this.tickets.answer(head, this.grant(head.request, d, this.now() - head.enqueuedAtMs));
      else this.tickets.answer(head, { kind: 'error', error: d.error });
      return 'served';
    });
    if (served > 0) this.events.emit({ type: 'queue', queueLength: this.tickets.length });
  }

  private grant(request: RouteRequest, d: Grant, queuedMs: number): RouteGranted {
    const fullSpan = request.span === undefined || (request.span.start === 0 && request.span.end === this.model.numBlocks);
    const { leaseId, record, expiresAtMs } = this.leases.open(request, d, fullSpan ? this.options.routing.name : 'ws-rr (failover)', queuedMs);
    this.registry.noteGranted(request); // only granted requests shape the planned workload
    for (const k of this.holderKeysOf.get(request) ?? holderKeys(request.clientId, undefined)) this.leaseHoldings.add(k, leaseId);
    this.recordRoute(record, false);
    this.log.info({ leaseTag: record.leaseTag, clientId: request.clientId, chain: d.hops, predictedMs: d.predicted.totalMs, queuedMs }, 'route granted');
    this.emitRoute(record);
    return grantAnswer({ key: this.key, leaseMs: this.leaseMs, modelId: this.model.id, verify: this.verified.routeVerify(d.hops) }, request, d, { leaseId, record, expiresAtMs });
  }

  /**
   * A client's evidence that two volunteers answered a checked step differently: judged by
   * recomputing the step here; the keys whose signed outputs are wrong are banned (removed, their
   * registrations refused). Never bans on the client's word: only signed outputs count.
   */
  judgeEvidence(evidence: VerifyEvidence): Promise<VerifyVerdict> {
    return this.verified.judge(evidence);
  }

  /** Keeps the last `recentRouteCount` routes for dashboards; announces it unless the caller does later. */
  private recordRoute(record: RouteRecord, emit = true): void {
    this.recentRoutes.push(record);
    while (this.recentRoutes.length > this.recentRouteCount) this.recentRoutes.shift();
    if (emit) this.emitRoute(record);
  }

  private emitRoute(record: RouteRecord): void {
    this.events.emit({ type: 'route', route: { ...record }, queueLength: this.tickets.length, activeLeases: this.leases.size });
  }

  private endLease(leaseId: string, outcome: 'released' | 'expired', measured?: MeasuredTimes): void {
    const record = this.leases.end(leaseId, outcome, measured);
    if (record === undefined) return;
    // A released lease's measured times are the hops' record (claims checked; probation ends with one).
    if (outcome === 'released' && measured !== undefined) this.registry.noteReport(record, measured);
    this.log.info({ leaseTag: record.leaseTag, outcome, measured }, 'lease ended');
    this.emitRoute(record);
    this.processQueue();
  }

  /**
   * Frees a lease's slots (and records the measured times for the dashboard). Throws
   * CoordinatorApiError: 'lease-refused' without the lease's secret (nothing changes).
   */
  release(leaseId: string, leaseSecret: string, measured?: MeasuredTimes): void {
    if (!this.leases.has(leaseId)) throw this.leases.error(leaseId);
    this.checkSecret(leaseId, leaseSecret);
    this.endLease(leaseId, 'released', measured);
  }

  /** Extends a lease by `leaseMs`; returns the new expiry (epoch ms). Throws CoordinatorApiError ('lease-refused' without the secret). */
  renew(leaseId: string, leaseSecret: string): number {
    if (!this.leases.has(leaseId)) throw this.leases.error(leaseId);
    this.checkSecret(leaseId, leaseSecret);
    return this.leases.renew(leaseId);
  }

  private checkSecret(leaseId: string, leaseSecret: string): void {
    if (!this.key.isLeaseSecret(leaseId, leaseSecret)) {
      throw new CoordinatorApiError('lease-refused', 'that is not this lease\'s secret: only the client it was granted to may release or renew it', 'leaseSecret');
    }
  }

  // Timers, state, events ----------------------------------------------------------------------

  /** Expires silent volunteers, lapsed leases and abandoned tickets. Runs on a timer; tests may call it. */
  sweep(): void {
    if (this.stopped) return;
    const now = this.now();
    const lostMs = this.loopLag.lostMs;
    for (const v of this.registry.all()) {
      // Time our own loop could not run (a long task, a GC pause) is not the volunteer's silence.
      const stalledMs = lostMs - (v.lostMsAtHeartbeat ?? lostMs);
      if (now - v.lastHeartbeatAtMs - stalledMs > this.heartbeatTimeoutMs) {
        this.sockets.remove(v.peerId, 'timeout');
        v.link.close(4003, `no heartbeat for ${this.heartbeatTimeoutMs} ms`);
      }
    }
    for (const id of this.leases.lapsed(now)) this.endLease(id, 'expired');
    const lag = this.loopLag.report();
    if (lag.recentMaxMs !== this.lastLag.recentMaxMs) this.events.emit({ type: 'loop-lag', loopLag: lag });
    this.lastLag = lag;
    this.leaseHoldings.prune();
    this.queueHoldings.prune();
    if (this.tickets.sweep()) {
      this.events.emit({ type: 'queue', queueLength: this.tickets.length });
      this.processQueue();
    }
  }

  /** The snapshot placement plans on now (planned speeds, capped memory, clamped RTTs, planned workload), for diagnostics. */
  planningSnapshot(): SwarmSnapshot {
    return this.registry.planSnapshot(this.registry.all());
  }

  /** What the live swarm looks like to the simulator: the planning snapshot, each client's reported RTTs (ms), and the policies in force. */
  scenarioInputs(): ScenarioInputs {
    const placementPolicy = this.placement.view.policy;
    const inputs: ScenarioInputs = {
      snapshot: this.planningSnapshot(), clientRttsMs: this.registry.clientRttsMs(), clientMsPerToken: this.registry.calibration.clientMsPerToken(),
      placementPolicy, routingPolicy: this.options.routing.name,
    };
    const combo = this.options.combo;
    // The combo in force: a placement switched since start drops the start combo's placement options.
    if (combo !== undefined) {
      inputs.combo = { ...combo, placement: placementPolicy };
      if (placementPolicy !== combo.placement) delete inputs.combo.placementOptions;
    }
    return inputs;
  }

  /** This process's event-loop lag (largest recent stall, all time lost), ms. */
  loopLagReport(): LoopLagReport {
    return this.loopLag.report();
  }

  /** The whole swarm state, for dashboards. */
  state(): SwarmState {
    return {
      atMs: this.now(),
      model: this.model,
      routingPolicy: this.options.routing.name,
      placement: this.placement.view,
      volunteers: this.registry.all().map((v) => this.view(v)),
      predictions: this.predictions.current,
      recentRoutes: this.recentRoutes.map((r) => ({ ...r })),
      queueLength: this.tickets.length,
      activeLeases: this.leases.size,
      loopLag: this.loopLag.report(),
    };
  }

  /** Subscribes a dashboard: it gets a snapshot now, then every event. Returns the unsubscribe function. */
  subscribe(listener: SwarmListener): () => void {
    return this.events.subscribe(listener, this.state());
  }
}
