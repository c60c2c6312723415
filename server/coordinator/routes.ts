// Routing decisions for the live swarm: the spans in force as a placement, the routing policy, and core/dispatch's admission.
import type { Logger } from 'pino';
import type { ApiErrorBody, RouteRequest } from '../../core/api/index.ts';
import type { PlacementResult, ServerAssignment } from '../../core/placement/index.ts';
import { dispatchChains, wsRrRouting, type RoutingDecision, type RoutingPolicy } from '../../core/routing/index.ts';
import {
  admit, chainKeyOf, chainsInForce, loadsFromBookings, loadsInSessionUnits, routeSubSpan, sessionReservation, type AdmissionContext, type CacheReservation,
} from '../../core/dispatch/index.ts';
import type { Grant, LeaseBook } from './leases.ts';
import { errorBody, type PlacementLoop } from './placement-loop.ts';
import type { VolunteerRegistry } from './registry.ts';

/** What the coordinator does with one request now. */
export type Decision = ({ kind: 'grant' } & Grant) | { kind: 'queue' } | { kind: 'error'; error: ApiErrorBody };

/** Decides route requests on the live swarm. */
export class RouteDecider {
  /** Failover for blocks [a, b): WS-RR (free-slot-aware shortest path) on the spans clipped to [a, b), as in the simulator. */
  private readonly failoverRouting = wsRrRouting();
  private cache: { key: string; placement: PlacementResult; chainKeys: string[] } | undefined;

  constructor(
    readonly routing: RoutingPolicy,
    private readonly registry: VolunteerRegistry,
    private readonly leases: LeaseBook,
    private readonly placementLoop: PlacementLoop,
    private readonly log: Logger,
    private readonly now: () => number,
    /** How a session's cache is booked: a whole slot per block, or its declared length (the policy combo's). */
    readonly reservation: CacheReservation = 'slot',
  ) {}

  /**
   * The placement routes are computed on: routable volunteers with their ready spans, and the chains
   * JFFC dispatches on — the placement policy's own while its spans are in force, else GCA over the
   * spans in force. Cached while neither changes.
   */
  private routingPlacement(clientId: string): { placement: PlacementResult; chainKeys: string[] } {
    const routable = this.registry.routable(clientId);
    const { result, round } = this.placementLoop.result;
    const key = `${round};` + routable.map((v) => `${chainKeyOf([{ serverId: v.peerId, span: v.servingSpan ?? { start: 0, end: 0 } }])}:${v.cacheSlots}`).join(',');
    if (this.cache?.key === key) return this.cache;
    const assignments: ServerAssignment[] = routable.map((v) => ({ serverId: v.peerId, span: v.servingSpan, cacheSlots: v.cacheSlots }));
    const placement: PlacementResult = {
      policy: this.placementLoop.policyName,
      assignments,
      prediction: { perTokenMs: this.placementLoop.view.perTokenMs ?? 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } },
      runtimeMs: result?.runtimeMs ?? 0,
    };
    // GCA over the spans in force counts slots in the policy's units (bouquet: declared-length sessions), as the simulator does.
    if (result?.sessionsPerSlot !== undefined) placement.sessionsPerSlot = result.sessionsPerSlot;
    // Chains JFFC dispatches on, fixed here so our per-chain session counts index the same list.
    let chainKeys: string[] = [];
    if (assignments.length > 0) {
      try {
        const spans = new Map(routable.map((v) => [v.peerId, v.servingSpan]));
        placement.chains = chainsInForce(result?.chains, (id) => spans.get(id)) ?? dispatchChains(this.registry.planSnapshot(routable), placement);
        chainKeys = placement.chains.map((c) => chainKeyOf(c.chain.hops));
      } catch (e) {
        this.log.warn({ error: errorBody(e) }, 'no dispatch chains for the current spans');
      }
    }
    this.cache = { key, placement, chainKeys };
    return this.cache;
  }

  /** Decides one request now: a chain to grant, wait in the queue, or an error. */
  decide(request: RouteRequest): Decision {
    const { placement, chainKeys } = this.routingPlacement(request.clientId);
    const L = this.registry.model.numBlocks;
    const span = request.span ?? { start: 0, end: L };
    const banned = new Map((request.excludePeers ?? []).map((p) => [p, Infinity]));
    const routable = this.registry.routable(request.clientId);
    // A snapshot per request, with this request's RTTs: the routing policies key their per-client state on it.
    const swarm = this.registry.planSnapshot(routable, { id: request.clientId, rttMs: request.rttMs ?? {} });
    const booked = loadsFromBookings(placement.assignments, this.leases.bookings());
    // What this session's hops hold (core/dispatch, as the simulator counts), and the loads in its units for routing.
    const held = sessionReservation(this.reservation, request.promptTokens + request.maxNewTokens, this.registry.model.maxSessionTokens);
    const servers = loadsInSessionUnits(booked, held.perBlockSlots);
    const core = { clientId: request.clientId, inputTokens: request.promptTokens, outputTokens: request.maxNewTokens };
    const fullSpan = span.start === 0 && span.end === L;
    // A live coordinator cannot hold a client for a WS-RR wait (it queues it), and the volunteer itself refuses a PETALS session it cannot fit.
    const ctx: AdmissionContext = { freeSlots: (id) => booked.get(id)?.freeSlots ?? 0, canBook: false, playsVolunteer: false, hopSlots: held.hopSlots };
    let decision: RoutingDecision;
    let policy: RoutingPolicy;
    if (fullSpan) {
      policy = this.routing;
      const state = { nowMs: this.now(), servers, bannedUntilMs: banned, chainSessions: this.leases.chainSessions(chainKeys) };
      decision = policy.route({ swarm, placement, state }, core);
    } else {
      policy = this.failoverRouting;
      decision = routeSubSpan(policy, swarm, placement, { nowMs: this.now(), servers, bannedUntilMs: banned }, core, span);
    }
    const a = admit(decision, policy.admission, ctx);
    switch (a.kind) {
      case 'start': {
        const out: Decision = {
          kind: 'grant', hops: a.chain.hops.map((h) => ({ peerId: h.serverId, span: h.span })), predicted: a.predicted, hopSlots: a.chain.hops.map((h) => held.hopSlots(h.span)),
        };
        if (fullSpan) out.chainKey = chainKeyOf(a.chain.hops);
        return out;
      }
      case 'queue':
      case 'refused':
        return { kind: 'queue' };
      case 'no-route':
        // A volunteer is loading the missing blocks (or a placement that may move one is under way):
        // the request waits in the queue for it rather than failing while the swarm heals itself.
        if (this.placementLoop.pending || this.registry.coverageLoading(span, new Set(banned.keys()))) return { kind: 'queue' };
        return { kind: 'error', error: { code: 'no-route', message: `no route for blocks [${span.start}, ${span.end}): ${a.reason}` } };
      default: {
        const never: never = a;
        return never;
      }
    }
  }
}
