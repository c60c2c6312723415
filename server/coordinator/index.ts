// The live coordinator: a thin shell wiring the registry, placement loop, route desk (leases, tickets, fair use), predictions and events.
// Transport-free: server.ts wires WebSockets and REST to it. All state is in memory.
import type { Logger } from 'pino';
import {
  type MeasuredTimes,
  type PlacementView,
  type RouteRequest,
  type RouteResponse,
  type SwarmState,
  type VolunteerView,
} from '../../core/api/index.ts';
import { CoordinatorKey } from '../identity/index.ts';
import type { PlacementPolicy } from '../../core/placement/index.ts';
import { EventHub } from './events.ts';
import { LeaseBook, TicketQueue } from './leases.ts';
import { networkDefaults, workloadDefaults, type CoordinatorOptions, type SwarmListener, type VolunteerConnection, type VolunteerLink } from './options.ts';
import { PlacementLoop } from './placement-loop.ts';
import { Predictions } from './predictions.ts';
import { VolunteerRegistry, type Volunteer } from './registry.ts';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import type { ScenarioInputs } from '../scenario-export.ts';
import { RouteDecider } from './routes.ts';
import { VolunteerSockets } from './volunteer-sockets.ts';
import { LoopLag, type LoopLagReport } from './loop-lag.ts';
import type { VerifyEvidence, VerifyVerdict } from '../../core/api/index.ts';
import { VerifiedResults } from './verified-results.ts';
import { RouteDesk } from './route-desk.ts';

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
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly registry: VolunteerRegistry;
  private readonly leases: LeaseBook;
  private readonly tickets: TicketQueue;
  private readonly events: EventHub;
  private readonly predictions: Predictions;
  private readonly placement: PlacementLoop;
  private readonly sockets: VolunteerSockets;
  private readonly verified: VerifiedResults;
  private readonly desk: RouteDesk;
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
      onPlaced: () => this.desk.processQueue(),
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
      processQueue: () => this.desk.processQueue(),
      view: (v) => this.view(v),
      onAdopted: (record) => this.desk.recordRoute(record),
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
    const decider = new RouteDecider(options.routing, this.registry, this.leases, this.placement, this.log, this.now, options.cacheReservation);
    this.desk = new RouteDesk({
      registry: this.registry, leases: this.leases, tickets: this.tickets, events: this.events, decider, verified: this.verified,
      key: this.key, log: this.log, now: this.now, leaseMs: this.leaseMs, routingName: options.routing.name,
      maxQueueLength: options.maxQueueLength ?? 1000, recentRouteCount: options.recentRoutes ?? 50, fairUse: options.fairUse ?? {},
      isStopped: () => this.stopped,
    });
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
    return this.desk.requestRoute(request, from);
  }

  /**
   * Answer for a queue ticket: the route once granted, else the current position. With `waitMs`
   * > 0 it waits up to that long for the route (long poll).
   */
  pollTicket(ticketId: string, waitMs = 0): Promise<RouteResponse> {
    return this.desk.pollTicket(ticketId, waitMs);
  }

  /**
   * Frees a lease's slots (and records the measured times for the dashboard). Throws
   * CoordinatorApiError: 'lease-refused' without the lease's secret (nothing changes).
   */
  release(leaseId: string, leaseSecret: string, measured?: MeasuredTimes): void {
    this.desk.release(leaseId, leaseSecret, measured);
  }

  /** Extends a lease by `leaseMs`; returns the new expiry (epoch ms). Throws CoordinatorApiError ('lease-refused' without the secret). */
  renew(leaseId: string, leaseSecret: string): number {
    return this.desk.renew(leaseId, leaseSecret);
  }

  /**
   * A client's evidence that two volunteers answered a checked step differently: judged by
   * recomputing the step here; the keys whose signed outputs are wrong are banned (removed, their
   * registrations refused). Never bans on the client's word: only signed outputs count.
   */
  judgeEvidence(evidence: VerifyEvidence): Promise<VerifyVerdict> {
    return this.verified.judge(evidence);
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
    this.desk.sweep(now);
    const lag = this.loopLag.report();
    if (lag.recentMaxMs !== this.lastLag.recentMaxMs) this.events.emit({ type: 'loop-lag', loopLag: lag });
    this.lastLag = lag;
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
      recentRoutes: this.desk.recentRoutes.map((r) => ({ ...r })),
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
