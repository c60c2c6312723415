// The live coordinator: a thin shell over core/dispatch wiring the registry, placement loop, leases and tickets, predictions and events.
// Transport-free: server.ts wires WebSockets and REST to it. All state is in memory.
import type { Logger } from 'pino';
import {
  CoordinatorApiError,
  type LeaveReason,
  type MeasuredTimes,
  type PlacementView,
  type RegisterMessage,
  type RouteGranted,
  type RouteRequest,
  type RouteResponse,
  type SwarmState,
  type VolunteerMessage,
  type VolunteerView,
  parseLeaseToken,
  parseVolunteerMessage,
  protocolVersion,
} from '../../core/api/index.ts';
import { CoordinatorKey } from '../identity/index.ts';
import { challengeNonce, checkRegistration, sameKey } from './identity-check.ts';
import type { PlacementPolicy } from '../../core/placement/index.ts';
import { serveQueue } from '../../core/dispatch/index.ts';
import { EventHub } from './events.ts';
import { LeaseBook, TicketQueue, type Grant } from './leases.ts';
import { networkDefaults, workloadDefaults, type CoordinatorOptions, type SwarmListener, type VolunteerConnection, type VolunteerLink } from './options.ts';
import { PlacementLoop } from './placement-loop.ts';
import { Predictions } from './predictions.ts';
import { VolunteerRegistry, type Volunteer } from './registry.ts';
import { sameSpan, type SwarmSnapshot } from '../../core/swarm/index.ts';
import { RouteDecider } from './routes.ts';
import { LoopLag, type LoopLagReport } from './loop-lag.ts';
import { checkQuota, defaultFairUseLimits, holderKeys, Holdings, type FairUseLimits } from './fair-use.ts';
import type { RouteRecord } from '../../core/api/index.ts';

export type { LoopLagReport } from './loop-lag.ts';
export { maxSlotsPerVolunteer, maxWorkloadShareRequests, maxRttClients } from './registry.ts';
export { VolunteerRecords, clientInfluence, maxReportingClients, probationLeases } from './records.ts';
export { defaultFairUseLimits, type FairUseLimits } from './fair-use.ts';
/** Signed leases one register or heartbeat may have checked (~0.1–0.5 ms each): the rest wait for the next heartbeat. */
const maxVerifiedPerReport = 64;

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
    this.registry = new VolunteerRegistry(options.model, networkDefaults(options.network), workloadDefaults(options.workload), this.now, (id) =>
      this.leases.through(id),
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
      placementDelayMs: options.placementDelayMs ?? 50,
      onPlaced: () => this.processQueue(),
      view: (v) => this.view(v),
    });
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
    let peerId: string | undefined;
    // Every socket gets its own nonce: a registration proves the key now, on this socket (no replay).
    const nonce = challenged ?? challengeNonce();
    if (challenged === undefined) link.send({ type: 'challenge', nonce });
    const registerTimer = setTimeout(() => {
      if (peerId === undefined) link.close(4000, 'no register message within the heartbeat timeout');
    }, this.heartbeatTimeoutMs);
    registerTimer.unref();
    const fail = (error: CoordinatorApiError): void => link.send({ type: 'error', error: error.toWire() });
    return {
      nonce,
      receive: (raw) => {
        const parsed = parseVolunteerMessage(raw);
        if (!parsed.ok) return fail(parsed.error);
        const m = parsed.value;
        if (m.type === 'register') {
          try {
            peerId = this.register(m, link, peerId, nonce);
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
        const v = peerId === undefined ? undefined : this.registry.get(peerId);
        if (v === undefined || v.link !== link) {
          return fail(new CoordinatorApiError('not-registered', `send 'register' before '${m.type}'`));
        }
        this.onVolunteerMessage(v, m);
      },
      closed: () => {
        clearTimeout(registerTimer);
        const v = peerId === undefined ? undefined : this.registry.get(peerId);
        if (v !== undefined && v.link === link) this.removeVolunteer(v.peerId, 'disconnect');
      },
    };
  }

  private register(m: RegisterMessage, link: VolunteerLink, previousPeerId: string | undefined, nonce: string): string {
    if (m.protocolVersion !== protocolVersion) throw new CoordinatorApiError('version-mismatch', `this coordinator speaks protocol version ${protocolVersion}, not ${m.protocolVersion}: reload the volunteer page`, 'protocolVersion');
    if (m.modelId !== this.model.id) {
      throw new CoordinatorApiError('model-mismatch', `this coordinator serves model '${this.model.id}', not '${m.modelId}'`, 'modelId');
    }
    if (m.loadedSpan !== undefined && m.loadedSpan.end > this.model.numBlocks) {
      throw new CoordinatorApiError('bad-request', `loadedSpan.end must be ≤ ${this.model.numBlocks} (the model's blocks)`, 'loadedSpan.end');
    }
    // Proof of the key, and that the id is the key's: else refused, and whoever holds the id is undisturbed.
    checkRegistration(m, nonce, this.options.keyBoundPeerIds ?? true);
    const held = this.registry.get(m.peerId);
    if (held !== undefined && !sameKey(held.publicKey, m.publicKey)) {
      throw new CoordinatorApiError('identity-refused', `peer id '${m.peerId}' is registered with another key; a re-registration must prove the same key`, 'peerId');
    }
    if (previousPeerId !== undefined && previousPeerId !== m.peerId) this.removeVolunteer(previousPeerId, 'replaced');
    const old = this.registry.get(m.peerId);
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
      // A loaded span is kept, but serves only once the volunteer answers the 'keep' with `ready`.
      load: { activeSessions: 0, freeCacheSlots: 0, state: 'loading' },
      assignedSpan: loaded,
      servingSpan: null,
      assignmentId: 0,
      everAssigned: loaded !== null,
      cacheSlots: this.registry.slotsFor(m.memoryBytes, loaded),
      lostMsAtHeartbeat: this.loopLag.lostMs,
    };
    v.load.freeCacheSlots = v.cacheSlots;
    this.registry.add(v);
    link.send({
      type: 'registered',
      peerId: v.peerId,
      coordinatorKey: this.key.publicKey,
      model: this.model,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
    });
    // Sessions it runs (after a coordinator restart) are booked before it can be routed to.
    this.adoptSessions(v, m.sessions);
    if (loaded !== null) this.registry.sendAssignment(v, loaded, 'keep');
    this.log.info({ peerId: v.peerId, memoryBytes: v.memoryBytes, decodeMsPerBlock: v.decodeMsPerBlock, loadedSpan: loaded }, 'volunteer registered');
    this.events.emit({ type: 'volunteer-joined', volunteer: this.view(v) });
    this.placement.schedule();
    return v.peerId;
  }

  private onVolunteerMessage(v: Volunteer, m: Exclude<VolunteerMessage, RegisterMessage>): void {
    switch (m.type) {
      case 'heartbeat': {
        v.lastHeartbeatAtMs = this.now();
        v.lostMsAtHeartbeat = this.loopLag.lostMs;
        const changed =
          v.load.activeSessions !== m.load.activeSessions || v.load.freeCacheSlots !== m.load.freeCacheSlots || v.load.state !== m.load.state;
        const wasRoutable = this.registry.isRoutable(v);
        v.load = m.load;
        this.adoptSessions(v, m.sessions);
        if (changed) this.events.emit({ type: 'volunteer-updated', volunteer: this.view(v) });
        if (wasRoutable !== this.registry.isRoutable(v)) this.processQueue();
        return;
      }
      case 'ready': {
        v.lastHeartbeatAtMs = this.now();
        v.lostMsAtHeartbeat = this.loopLag.lostMs;
        if (m.assignmentId !== v.assignmentId || !sameSpan(m.span, v.assignedSpan)) {
          this.log.warn({ peerId: v.peerId, got: m, expected: { assignmentId: v.assignmentId, span: v.assignedSpan } }, 'stale ready ignored');
          return;
        }
        v.servingSpan = m.span;
        v.load = { ...v.load, state: 'serving' };
        this.log.info({ peerId: v.peerId, span: m.span }, 'volunteer ready');
        this.events.emit({ type: 'volunteer-updated', volunteer: this.view(v) });
        this.placement.refreshView();
        this.processQueue();
        return;
      }
      case 'leave':
        this.removeVolunteer(v.peerId, 'leave');
        v.link.close(1000, 'left');
        return;
      default: {
        const never: never = m;
        throw new CoordinatorApiError('internal', `unhandled volunteer message ${JSON.stringify(never)}`);
      }
    }
  }

  private removeVolunteer(peerId: string, reason: LeaveReason, opts: { schedule?: boolean } = {}): void {
    if (this.registry.delete(peerId) === undefined) return;
    this.log.info({ peerId, reason }, 'volunteer left');
    this.events.emit({ type: 'volunteer-left', peerId, reason });
    if (opts.schedule ?? true) {
      this.placement.refreshView();
      this.placement.schedule();
      this.processQueue();
    }
  }

  /**
   * Books the leases a volunteer reports running that this coordinator does not know (it restarted):
   * only tokens it signed itself, naming this volunteer, not ended in this run. So a restarted
   * coordinator never books those slots twice.
   */
  private adoptSessions(v: Volunteer, tokens: readonly string[] | undefined): void {
    if (tokens === undefined) return;
    let adopted = 0;
    let verified = 0;
    for (const token of tokens) {
      // Known leases cost nothing (the usual heartbeat); a signature check is bounded per message (the event loop stays free).
      const parsed = parseLeaseToken(token);
      if (!parsed.ok || !this.leases.unknown(parsed.value.grant.leaseId)) continue;
      if (++verified > maxVerifiedPerReport) break;
      const grant = this.key.verifyLease(token);
      if (grant === null || !grant.chain.some((h) => h.peerId === v.peerId)) continue;
      const record = this.leases.adopt(grant);
      if (record === undefined) continue;
      adopted++;
      this.recentRoutes.push(record);
      while (this.recentRoutes.length > this.recentRouteCount) this.recentRoutes.shift();
      this.emitRoute(record);
    }
    if (adopted > 0) this.log.info({ peerId: v.peerId, adopted }, 'leases rebuilt from a volunteer report');
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

  /**
   * A client asks for a route: granted now, queued (poll the ticket), or refused. `from.address`
   * (a remote address key, server/auth's addressKey) adds the per-address caps to the per-client ones.
   */
  requestRoute(request: RouteRequest, from: { address?: string } = {}): RouteResponse {
    const keys = holderKeys(request.clientId, from.address);
    const f = this.fairUse;
    try {
      this.validateRequest(request);
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
    this.recentRoutes.push(record);
    while (this.recentRoutes.length > this.recentRouteCount) this.recentRoutes.shift();
    this.log.info({ leaseTag: record.leaseTag, clientId: request.clientId, chain: d.hops, predictedMs: d.predicted.totalMs, queuedMs }, 'route granted');
    this.emitRoute(record);
    const expectedEndAtMs = record.grantedAtMs + (Number.isFinite(d.predicted.totalMs) ? Math.max(0, d.predicted.totalMs) : this.leaseMs);
    const leaseToken = this.key.signLease({
      leaseId, clientId: request.clientId, chain: d.hops, promptTokens: request.promptTokens, maxNewTokens: request.maxNewTokens,
      grantedAtMs: record.grantedAtMs, expectedEndAtMs, expiresAtMs,
    });
    return {
      kind: 'route',
      leaseId,
      leaseSecret: this.key.leaseSecret(leaseId),
      leaseToken,
      leaseTag: record.leaseTag,
      chain: d.hops,
      expiresAtMs,
      leaseMs: this.leaseMs,
      predicted: d.predicted,
      policy: record.policy,
      modelId: this.model.id,
    };
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
        this.removeVolunteer(v.peerId, 'timeout');
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
  scenarioInputs(): { snapshot: SwarmSnapshot; clientRttsMs: Record<string, Record<string, number>>; placementPolicy: string; routingPolicy: string } {
    return { snapshot: this.planningSnapshot(), clientRttsMs: this.registry.clientRttsMs(), placementPolicy: this.placement.view.policy, routingPolicy: this.options.routing.name };
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
