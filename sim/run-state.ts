// The simulator's state of one run: servers, loads, requests, the central queue, and what a policy is told of a request.
import { BouquetError } from '../core/errors/index.ts';
import type { ActiveSession } from '../core/perf/index.ts';
import type { PlacementResult } from '../core/placement/index.ts';
import { serverIndex, wsRrRouting, type RoutingPolicy, type ServerIndex, type ServerLoad } from '../core/routing/index.ts';
import { CentralQueue, loadsInSessionUnits, sessionReservation, snapWhole, type AdmissionContext } from '../core/dispatch/index.ts';
import type { SimRequest } from './arrivals.ts';
import { drawSpeedFactors, slotTokensOf } from './service.ts';
import type { AlgorithmTiming, ChurnTraceEntry, RequestRun, ServerRun, SimConfig } from './engine-types.ts';

/** What the run has seen so far, for re-tuning: arrivals, their prompt and declared tokens, finished outputs. */
export interface SeenWorkload {
  arrivals: number;
  inputTokens: number;
  declaredTokens: number;
  finished: number;
  outputTokens: number;
}

/** One run's mutable state; the handlers in sim/lifecycle.ts and sim/churn.ts read and update it. */
export class RunState {
  readonly servers = new Map<string, ServerRun>();
  readonly loads = new Map<string, ServerLoad>();
  readonly requests: RequestRun[];
  readonly chainSessions: number[] = [];
  /** The central FIFO queue (JFFC). */
  readonly queue = new CentralQueue<RequestRun>();
  /** Requests that found no chain at all (churn): routed again when a volunteer comes back. */
  stalled: RequestRun[] = [];
  /** Every leave and join the run saw, in time order (what sim/time-bound.ts takes as the run's churn). */
  readonly churnLog: ChurnTraceEntry[] = [];
  done = 0;
  nowMs = 0;
  readonly timing: AlgorithmTiming;
  readonly index: ServerIndex;
  readonly churnIds: Set<string>;
  /** The spans in force: the policy's placement, then what reconcile-on-churn made of it. */
  placement: PlacementResult;
  /**
   * What routing sees: the spans in force; for JFFC after churn only the online volunteers', with
   * the proposal's chains while in force, else GCA's over them (as the live coordinator routes).
   */
  routingPlacement: PlacementResult;
  /** A 'replace' event is scheduled and not yet handled (churn at one instant shares one). */
  replacePending = false;
  /** Routes a failed hop's blocks again (the live coordinator's failover: WS-RR on the clipped spans). */
  readonly failoverRouting: RoutingPolicy = wsRrRouting();
  /** The simulator plays the volunteers (it decides PETALS refusals) and can book WS-RR slots ahead. */
  readonly admission: AdmissionContext = {
    freeSlots: (id) => this.servers.get(id)?.load.freeSlots ?? 0,
    canBook: true,
    playsVolunteer: true,
  };
  /** Each server's actual step time as a multiple of its declared τ (service.speedCv; all 1 when off). */
  readonly speedFactors: Map<string, number>;
  /** Tokens a whole cache slot holds (for reservation by declared length). */
  readonly slotTokens: number;
  /** Whether any service option changes core/perf's nominal times (else they are used as they are, bit for bit). */
  readonly nominalService: boolean;
  /** How much cache a session is reserved: the combo's choice, else the service model's, else a whole slot. */
  readonly reservation: 'slot' | 'declared';
  /** What the run has seen so far, for re-tuning: arrivals, their prompt and declared tokens, finished outputs. */
  readonly seen: SeenWorkload = { arrivals: 0, inputTokens: 0, declaredTokens: 0, finished: 0, outputTokens: 0 };

  constructor(readonly cfg: SimConfig) {
    this.index = serverIndex(cfg.swarm);
    const specs = this.index;
    for (const a of cfg.placement.assignments) {
      const spec = specs.get(a.serverId);
      if (spec === undefined) continue;
      const load = { online: true, freeSlots: a.cacheSlots, sessions: [] as ActiveSession[] };
      this.servers.set(a.serverId, { spec, slots: a.cacheSlots, load, holders: new Set(), slotMsIntegral: 0, lastChangeMs: 0, busyMs: 0 });
      this.loads.set(a.serverId, load);
    }
    this.requests = cfg.requests.map((req) => ({
      req,
      generated: 0,
      failures: new Map(),
      bannedUntilMs: new Map(),
      attempts: 0,
      session: null,
      sessionSeq: 0,
      firstTokenMs: null,
      endMs: null,
      serviceMs: 0,
      replayMs: 0,
      retries: 0,
      failovers: 0,
    }));
    this.timing = { routingCalls: 0, routingMsTotal: 0, routingMsMax: 0, placementMs: cfg.placement.runtimeMs };
    this.churnIds = new Set(cfg.churn?.serverIds ?? [...this.servers.keys()]);
    this.placement = cfg.placement;
    this.routingPlacement = cfg.placement;
    const service = cfg.service;
    this.speedFactors = drawSpeedFactors(cfg.swarm, service, cfg.serviceRandom);
    this.nominalService = (service?.speedCv ?? 0) === 0 && (service?.stepJitterCv ?? 0) === 0 && service?.contention === undefined;
    this.reservation = cfg.reservation ?? service?.reservation ?? 'slot';
    this.slotTokens = slotTokensOf(cfg.swarm.model, cfg.requests.reduce((m, q) => Math.max(m, q.inputTokens + declaredOutputTokens(q)), 1));
  }

  request(id: number): RequestRun {
    const r = this.requests[id];
    if (r === undefined) throw new BouquetError('internal', `simulator: unknown request ${id}`);
    return r;
  }

  /** Admission's view for one request: under reservation by declared length, its hops need only that much cache. */
  admissionFor(r: RequestRun): AdmissionContext {
    if (this.reservation !== 'declared') return this.admission;
    return { ...this.admission, hopSlots: sessionReservation('declared', r.req.inputTokens + declaredOutputTokens(r.req), this.slotTokens).hopSlots };
  }

  /**
   * The loads routing sees for `r`. Under reservation by declared length they are counted in units
   * of this session's per-block reservation (core/dispatch `loadsInSessionUnits`), so a policy that
   * asks for one slot per block (every policy does) asks for exactly what admission will reserve.
   */
  loadsFor(r: RequestRun): ReadonlyMap<string, ServerLoad> {
    if (this.reservation !== 'declared') return this.loads;
    const perBlock = sessionReservation('declared', r.req.inputTokens + declaredOutputTokens(r.req), this.slotTokens).perBlockSlots;
    return loadsInSessionUnits(this.loads, perBlock);
  }

  /** What a policy is told of a request now: the prompt plus tokens so far, and the declared tokens still allowed (never the actual length). */
  routingRequest(r: RequestRun): { clientId: string; inputTokens: number; outputTokens: number } {
    return { clientId: r.req.clientId, inputTokens: r.req.inputTokens + r.generated, outputTokens: Math.max(1, declaredOutputTokens(r.req) - r.generated) };
  }

  changeSlots(s: ServerRun, delta: number): void {
    s.slotMsIntegral += (s.slots - s.load.freeSlots) * (this.nowMs - s.lastChangeMs);
    s.lastChangeMs = this.nowMs;
    s.load.freeSlots -= delta;
    // Fractional reservations (by declared length) must not drift below a whole slot by rounding.
    s.load.freeSlots = snapWhole(s.load.freeSlots);
  }

  /**
   * PETALS' client ban (hivemind's Blacklist.register_failure): a peer not banned now is banned for
   * 15 s · 2^k, k = its earlier failures; failures while it is still banned do not lengthen the ban.
   */
  registerFailure(r: RequestRun, serverId: string): void {
    const admission = this.cfg.routing.admission;
    if (admission.kind !== 'fail-and-retry') return;
    if ((r.bannedUntilMs.get(serverId) ?? -Infinity) > this.nowMs) return;
    const failures = (r.failures.get(serverId) ?? 0) + 1;
    r.failures.set(serverId, failures);
    r.bannedUntilMs.set(serverId, this.nowMs + admission.banMs(failures));
  }
}

/** A request's declared output length (maxNewTokens; its actual length for hand-built requests without one), tokens. */
export function declaredOutputTokens(req: SimRequest): number {
  return req.maxNewTokens ?? req.outputTokens;
}
