// The route desk: a client's route request checked, then granted (its signed lease and secret), queued or refused (fair-use caps per client and address),
// the central FIFO queue served as capacity frees, and a lease's end (release with its report, renewal, expiry).
import type { Logger } from 'pino';
import {
  CoordinatorApiError,
  type MeasuredTimes,
  type RouteGranted,
  type RouteRecord,
  type RouteRequest,
  type RouteResponse,
  type RouteVerify,
  type SwarmState,
} from '../../core/api/index.ts';
import { serveQueue } from '../../core/dispatch/index.ts';
import type { CoordinatorKey } from '../identity/index.ts';
import type { EventHub } from './events.ts';
import { checkQuota, defaultFairUseLimits, holderKeys, Holdings, type FairUseLimits } from './fair-use.ts';
import type { Grant, LeaseBook, TicketQueue } from './leases.ts';
import type { VolunteerRegistry } from './registry.ts';
import type { RouteDecider } from './routes.ts';
import type { VerifiedResults } from './verified-results.ts';

/** What the desk works with: the coordinator's parts. */
export interface RouteDeskDeps {
  registry: VolunteerRegistry;
  leases: LeaseBook;
  tickets: TicketQueue;
  events: EventHub;
  decider: RouteDecider;
  verified: VerifiedResults;
  key: CoordinatorKey;
  log: Logger;
  now: () => number;
  /** Lease length, ms. */
  leaseMs: number;
  /** The routing policy's name, on full-span routes' records. */
  routingName: string;
  maxQueueLength: number;
  /** Routes kept for dashboards. */
  recentRouteCount: number;
  fairUse?: Partial<FairUseLimits>;
  isStopped: () => boolean;
}

export class RouteDesk {
  private readonly maxQueueLength: number;
  private readonly recentRouteCount: number;
  /** The last `recentRouteCount` routes, oldest first. */
  readonly recentRoutes: RouteRecord[] = [];
  // Fair use: leases and queue entries per client id and address, and the keys each request counts under.
  private readonly fairUse: FairUseLimits;
  private readonly leaseHoldings: Holdings;
  private readonly queueHoldings: Holdings;
  private readonly holderKeysOf = new WeakMap<RouteRequest, string[]>();

  constructor(private readonly d: RouteDeskDeps) {
    this.maxQueueLength = d.maxQueueLength;
    this.recentRouteCount = d.recentRouteCount;
    this.fairUse = { ...defaultFairUseLimits, ...d.fairUse };
    this.leaseHoldings = new Holdings((id) => d.leases.has(id));
    this.queueHoldings = new Holdings((id) => d.tickets.answerOf(id)?.kind === 'queued');
  }


  /**
   * A client asks for a route: granted now, queued (poll the ticket), or refused. `from.address`
   * (a remote address key, server/auth's addressKey) adds the per-address caps to the per-client ones.
   */
  requestRoute(request: RouteRequest, from: { address?: string } = {}): RouteResponse {
    const keys = holderKeys(request.clientId, from.address);
    const f = this.fairUse;
    try {
      checkRouteRequest(request, this.d.registry.model);
      checkQuota(this.leaseHoldings, keys, { client: f.maxLeasesPerClient, address: f.maxLeasesPerAddress }, 'leases');
    } catch (e) {
      if (e instanceof CoordinatorApiError) return { kind: 'error', error: e.toWire() };
      throw e;
    }
    this.holderKeysOf.set(request, keys);
    this.d.registry.noteRtts(request);
    // FIFO: while anyone waits in the central queue, a newcomer joins its tail.
    if (this.d.tickets.length === 0) {
      const d = this.d.decider.decide(request);
      if (d.kind === 'grant') return this.grant(request, d, 0);
      if (d.kind === 'error') return { kind: 'error', error: d.error };
    }
    // Optional work (a verified-results check) is granted now or not at all: it never queues ahead of real requests.
    if (request.noQueue === true) {
      return { kind: 'error', error: { code: 'queue-full', message: 'no free chain for this span now, and this request asked not to queue' } };
    }
    if (this.d.tickets.length >= this.maxQueueLength) {
      return { kind: 'error', error: { code: 'queue-full', message: `the central queue holds ${this.d.tickets.length} requests; retry later` } };
    }
    try {
      checkQuota(this.queueHoldings, keys, { client: f.maxQueuedPerClient, address: f.maxQueuedPerAddress }, 'queue entries');
    } catch (e) {
      if (e instanceof CoordinatorApiError) return { kind: 'error', error: e.toWire() };
      throw e;
    }
    const entry = this.d.tickets.enqueue(request);
    for (const k of keys) this.queueHoldings.add(k, entry.ticketId);
    this.d.log.info({ clientId: request.clientId, ticketId: entry.ticketId, position: this.d.tickets.length }, 'route request queued');
    this.d.events.emit({ type: 'queue', queueLength: this.d.tickets.length });
    // The queue may have been non-empty only because its head was stuck: try it now.
    this.processQueue();
    return this.d.tickets.answerOf(entry.ticketId) ?? { kind: 'error', error: { code: 'internal', message: 'ticket vanished' } };
  }

  /**
   * Answer for a queue ticket: the route once granted, else the current position. With `waitMs`
   * > 0 it waits up to that long for the route (long poll).
   */
  pollTicket(ticketId: string, waitMs = 0): Promise<RouteResponse> {
    return this.d.tickets.poll(ticketId, waitMs);
  }

  /** Hands freed capacity to the queue head, in FIFO order, until the head must wait (core/dispatch's serveQueue). */
  processQueue(): void {
    if (this.d.isStopped()) return;
    const served = serveQueue(this.d.tickets.queue, (head) => {
      const d = this.d.decider.decide(head.request);
      if (d.kind === 'queue') return 'wait';
      if (d.kind === 'grant') this.d.tickets.answer(head, this.grant(head.request, d, this.d.now() - head.enqueuedAtMs));
      else this.d.tickets.answer(head, { kind: 'error', error: d.error });
      return 'served';
    });
    if (served > 0) this.d.events.emit({ type: 'queue', queueLength: this.d.tickets.length });
  }

  private grant(request: RouteRequest, d: Grant, queuedMs: number): RouteGranted {
    const fullSpan = request.span === undefined || (request.span.start === 0 && request.span.end === this.d.registry.model.numBlocks);
    const { leaseId, record, expiresAtMs } = this.d.leases.open(request, d, fullSpan ? this.d.routingName : 'ws-rr (failover)', queuedMs);
    this.d.registry.noteGranted(request); // only granted requests shape the planned workload
    for (const k of this.holderKeysOf.get(request) ?? holderKeys(request.clientId, undefined)) this.leaseHoldings.add(k, leaseId);
    this.recordRoute(record, false);
    this.d.log.info({ leaseTag: record.leaseTag, clientId: request.clientId, chain: d.hops, predictedMs: d.predicted.totalMs, queuedMs }, 'route granted');
    this.emitRoute(record);
    return grantAnswer({ key: this.d.key, leaseMs: this.d.leaseMs, modelId: this.d.registry.model.id, verify: this.d.verified.routeVerify(d.hops) }, request, d, { leaseId, record, expiresAtMs });
  }

  /** Keeps the last `recentRouteCount` routes for dashboards; announces it unless the caller does later. */
  recordRoute(record: RouteRecord, emit = true): void {
    this.recentRoutes.push(record);
    while (this.recentRoutes.length > this.recentRouteCount) this.recentRoutes.shift();
    if (emit) this.emitRoute(record);
  }

  private emitRoute(record: RouteRecord): void {
    this.d.events.emit({ type: 'route', route: { ...record }, queueLength: this.d.tickets.length, activeLeases: this.d.leases.size });
  }

  endLease(leaseId: string, outcome: 'released' | 'expired', measured?: MeasuredTimes): void {
    const record = this.d.leases.end(leaseId, outcome, measured);
    if (record === undefined) return;
    // A released lease's measured times are the hops' record (claims checked; probation ends with one).
    if (outcome === 'released' && measured !== undefined) this.d.registry.noteReport(record, measured);
    this.d.log.info({ leaseTag: record.leaseTag, outcome, measured }, 'lease ended');
    this.emitRoute(record);
    this.processQueue();
  }

  /**
   * Frees a lease's slots (and records the measured times for the dashboard). Throws
   * CoordinatorApiError: 'lease-refused' without the lease's secret (nothing changes).
   */
  release(leaseId: string, leaseSecret: string, measured?: MeasuredTimes): void {
    if (!this.d.leases.has(leaseId)) throw this.d.leases.error(leaseId);
    this.checkSecret(leaseId, leaseSecret);
    this.endLease(leaseId, 'released', measured);
  }

  /** Extends a lease by `leaseMs`; returns the new expiry (epoch ms). Throws CoordinatorApiError ('lease-refused' without the secret). */
  renew(leaseId: string, leaseSecret: string): number {
    if (!this.d.leases.has(leaseId)) throw this.d.leases.error(leaseId);
    this.checkSecret(leaseId, leaseSecret);
    return this.d.leases.renew(leaseId);
  }

  private checkSecret(leaseId: string, leaseSecret: string): void {
    if (!this.d.key.isLeaseSecret(leaseId, leaseSecret)) {
      throw new CoordinatorApiError('lease-refused', 'that is not this lease\'s secret: only the client it was granted to may release or renew it', 'leaseSecret');
    }
  }

  /** Expires lapsed leases and abandoned tickets, and forgets holdings that ended (the coordinator's sweep). */
  sweep(nowMs: number): void {
    for (const id of this.d.leases.lapsed(nowMs)) this.endLease(id, 'expired');
    this.leaseHoldings.prune();
    this.queueHoldings.prune();
    if (this.d.tickets.sweep()) {
      this.d.events.emit({ type: 'queue', queueLength: this.d.tickets.length });
      this.processQueue();
    }
  }
}

/** Throws CoordinatorApiError (model-mismatch, bad-request with its field) for a request this model cannot serve. */
export function checkRouteRequest(request: RouteRequest, model: SwarmState['model']): void {
  if (request.modelId !== undefined && request.modelId !== model.id) {
    throw new CoordinatorApiError('model-mismatch', `this coordinator serves model '${model.id}', not '${request.modelId}'`, 'modelId');
  }
  if (request.span !== undefined && request.span.end > model.numBlocks) {
    throw new CoordinatorApiError('bad-request', `span.end must be ≤ ${model.numBlocks} (the model's blocks)`, 'span.end');
  }
  if (request.promptTokens + request.maxNewTokens > model.maxSessionTokens) {
    throw new CoordinatorApiError(
      'bad-request',
      `promptTokens + maxNewTokens must be ≤ ${model.maxSessionTokens}, the session length volunteers size their cache for`,
      'maxNewTokens',
    );
  }
}

/**
 * The answer for a granted lease: the chain, the lease signed for its volunteers (expected end from
 * the prediction, else a whole lease, ms), the secret only its client learns, and the check plan.
 */
export function grantAnswer(
  ctx: { key: CoordinatorKey; leaseMs: number; modelId: string; verify: RouteVerify },
  request: RouteRequest,
  d: Grant,
  lease: { leaseId: string; record: RouteRecord; expiresAtMs: number },
): RouteGranted {
  const { leaseId, record, expiresAtMs } = lease;
  const expectedEndAtMs = record.grantedAtMs + (Number.isFinite(d.predicted.totalMs) ? Math.max(0, d.predicted.totalMs) : ctx.leaseMs);
  const leaseToken = ctx.key.signLease({
    leaseId, clientId: request.clientId, chain: d.hops, promptTokens: request.promptTokens, maxNewTokens: request.maxNewTokens,
    grantedAtMs: record.grantedAtMs, expectedEndAtMs, expiresAtMs,
  });
  return {
    kind: 'route',
    leaseId,
    leaseSecret: ctx.key.leaseSecret(leaseId),
    leaseToken,
    leaseTag: record.leaseTag,
    chain: d.hops,
    expiresAtMs,
    leaseMs: ctx.leaseMs,
    predicted: d.predicted,
    policy: record.policy,
    modelId: ctx.modelId,
    verify: ctx.verify,
  };
}
