// Discrete-event simulator of a swarm: arrivals, cache slots, each routing policy's admission, churn with failover.
//
// Events are plain data. Handlers read the run's state, update it, and return the events they
// cause; only `simulate`'s loop touches the event queue (a binary heap). Events at the same time
// are processed in this order (then in the order they were scheduled):
//
//   1 finish        a session ends and frees its slots before anything at that instant wants them
//   2 server-leave  a volunteer goes away; its sessions fail over (by sub-span where the coordinator routes)
//   3 server-join   a volunteer comes back; stalled requests are routed again
//   4 replace       re-placement after churn: the policy's proposal reconciled with the move budget
//   5 start         a WS-RR request whose wait is over begins
//   6 retry         a request is routed again (PETALS backoff, failover)
//   7 arrival       a new request arrives
//
// Service times come from core/perf's performance model on each request's own lengths (prompt and
// actual output), the same for every policy; policies see only the declared lengths (prompt +
// maxNewTokens) and the declared τ. sim/service.ts optionally varies each server's speed, jitters
// steps and adds contention (by default concurrency costs memory, not time). Randomness: the
// requests are drawn before the run; churn and the service model draw from their own seeded
// streams, so every policy sees the same arrivals, churn and server speeds for a seed.
import { BouquetError } from '../core/errors/index.ts';
import type { SwarmSnapshot, Chain } from '../core/swarm/index.ts';
import { cacheSlots, perTokenRttMs, prefillMsPerBlock, prefillRttMs, requestTimeWithIndex, type ActiveSession } from '../core/perf/index.ts';
import type { PlacementResult } from '../core/placement/index.ts';
import {
  dispatchChains,
  serverIndex,
  wsRrRouting,
  type RoutingDecision,
  type RoutingState,
  type ServerIndex,
  type ServerLoad,
} from '../core/routing/index.ts';
import {
  admit,
  CentralQueue,
  chainKeyOf,
  chainsInForce,
  hopOf,
  hopSlots,
  maxBlocksFor,
  reconcilePlacement,
  routeSubSpan,
  serveQueue,
  sessionHopSlots,
  spliceChain,
  type AdmissionContext,
} from '../core/dispatch/index.ts';
import { BinaryHeap } from './heap.ts';
import { exponential } from './random.ts';
import { summarize } from './metrics.ts';
import type { SimRequest } from './arrivals.ts';
import { contentionFactor, drawSpeedFactors, jitterFactor, slotTokensOf } from './service.ts';
import {
  eventRank,
  type Hold,
  type RequestRun,
  type ServerRun,
  type Session,
  type SimConfig,
  type SimEvent,
  type SimResult,
  type AlgorithmTiming,
} from './engine-types.ts';

export {
  eventRank,
  type ChurnSpec,
  type ChurnTraceEntry,
  type SimConfig,
  type SimView,
  type SimEvent,
  type RequestRun,
  type ServerRun,
  type AlgorithmTiming,
  type SimResult,
} from './engine-types.ts';

interface Queued {
  event: SimEvent;
  seq: number;
}


class Run {
  readonly servers = new Map<string, ServerRun>();
  readonly loads = new Map<string, ServerLoad>();
  readonly requests: RequestRun[];
  readonly chainSessions: number[] = [];
  /** The central FIFO queue (JFFC). */
  readonly queue = new CentralQueue<RequestRun>();
  /** Requests that found no chain at all (churn): routed again when a volunteer comes back. */
  stalled: RequestRun[] = [];
  done = 0;
  nowMs = 0;
  readonly timing: AlgorithmTiming;
  private readonly index: ServerIndex;
  private readonly churnIds: Set<string>;
  /** The spans in force: the policy's placement, then what reconcile-on-churn made of it. */
  placement: PlacementResult;
  /**
   * What routing sees: the spans in force; for JFFC after churn only the online volunteers', with
   * the proposal's chains while in force, else GCA's over them (as the live coordinator routes).
   */
  private routingPlacement: PlacementResult;
  /** A 'replace' event is scheduled and not yet handled (churn at one instant shares one). */
  private replacePending = false;
  /** Routes a failed hop's blocks again (the live coordinator's failover: WS-RR on the clipped spans). */
  private readonly failoverRouting = wsRrRouting();
  /** The simulator plays the volunteers (it decides PETALS refusals) and can book WS-RR slots ahead. */
  private readonly admission: AdmissionContext = {
    freeSlots: (id) => this.servers.get(id)?.load.freeSlots ?? 0,
    canBook: true,
    playsVolunteer: true,
  };
  /** Each server's actual step time as a multiple of its declared τ (service.speedCv; all 1 when off). */
  private readonly speedFactors: Map<string, number>;
  /** Tokens a whole cache slot holds (for reservation by declared length). */
  private readonly slotTokens: number;
  /** Whether any service option changes core/perf's nominal times (else they are used as they are, bit for bit). */
  private readonly nominalService: boolean;
  /** How much cache a session is reserved: the combo's choice, else the service model's, else a whole slot. */
  private readonly reservation: 'slot' | 'declared';
  /** What the run has seen so far, for re-tuning: arrivals, their prompt and declared tokens, finished outputs. */
  private readonly seen = { arrivals: 0, inputTokens: 0, declaredTokens: 0, finished: 0, outputTokens: 0 };

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

  /** Admission's view for one request: under reservation by declared length, its hops need only that much cache. */
  private admissionFor(r: RequestRun): AdmissionContext {
    if (this.reservation !== 'declared') return this.admission;
    const declared = r.req.inputTokens + declaredOutputTokens(r.req);
    return { ...this.admission, hopSlots: (span) => sessionHopSlots(span, 'declared', declared, this.slotTokens) };
  }

  /**
   * The loads routing sees for `r`. Under reservation by declared length they are counted in units
   * of this session's per-block reservation, so a policy that asks for one slot per block (every
   * policy does) asks for exactly what admission will reserve.
   */
  private loadsFor(r: RequestRun): ReadonlyMap<string, ServerLoad> {
    if (this.reservation !== 'declared') return this.loads;
    const perBlock = sessionHopSlots({ start: 0, end: 1 }, 'declared', r.req.inputTokens + declaredOutputTokens(r.req), this.slotTokens);
    const view = new Map<string, ServerLoad>();
    for (const [id, l] of this.loads) {
      view.set(id, { ...l, freeSlots: snapWhole(l.freeSlots / perBlock), sessions: l.sessions.map((x) => ({ slots: x.slots / perBlock, expectedEndMs: x.expectedEndMs })) });
    }
    return view;
  }

  /** What a policy is told of a request now: the prompt plus tokens so far, and the declared tokens still allowed (never the actual length). */
  private routingRequest(r: RequestRun): { clientId: string; inputTokens: number; outputTokens: number } {
    return { clientId: r.req.clientId, inputTokens: r.req.inputTokens + r.generated, outputTokens: Math.max(1, declaredOutputTokens(r.req) - r.generated) };
  }

  initialEvents(): SimEvent[] {
    const out: SimEvent[] = [];
    const first = this.requests[0];
    if (first !== undefined) out.push({ kind: 'arrival', atMs: first.req.arrivalMs, requestId: 0 });
    const churn = this.cfg.churn;
    if (churn !== undefined) {
      for (const id of this.servers.keys()) {
        if (this.churnIds.has(id)) out.push({ kind: 'server-leave', atMs: exponential(this.cfg.random, churn.meanOnlineMs), serverId: id });
      }
    }
    for (const t of this.cfg.churnTrace ?? []) out.push({ kind: t.kind, atMs: t.atMs, serverId: t.serverId });
    return out;
  }

  handle(e: SimEvent): SimEvent[] {
    this.nowMs = e.atMs;
    switch (e.kind) {
      case 'arrival':
        return this.onArrival(e.requestId);
      case 'start':
        return this.onStart(e.requestId, e.session);
      case 'finish':
        return this.onFinish(e.requestId, e.session);
      case 'retry':
        return this.route(this.request(e.requestId), e.front);
      case 'server-leave':
        return this.onLeave(e.serverId);
      case 'server-join':
        return this.onJoin(e.serverId);
      case 'replace':
        return this.onReplace(this.cfg.placement);
      default: {
        const never: never = e;
        throw new BouquetError('internal', `unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  private request(id: number): RequestRun {
    const r = this.requests[id];
    if (r === undefined) throw new BouquetError('internal', `simulator: unknown request ${id}`);
    return r;
  }

  private onArrival(id: number): SimEvent[] {
    const out: SimEvent[] = [];
    const next = this.requests[id + 1];
    if (next !== undefined) out.push({ kind: 'arrival', atMs: next.req.arrivalMs, requestId: id + 1 });
    const r = this.request(id);
    this.seen.arrivals++;
    this.seen.inputTokens += r.req.inputTokens;
    this.seen.declaredTokens += Math.min(this.slotTokens, r.req.inputTokens + declaredOutputTokens(r.req));
    // FIFO: while anyone waits in the central queue, a newcomer joins its tail.
    if (this.cfg.routing.admission.kind === 'central-queue' && this.queue.length > 0) {
      this.queue.push(r);
      return out;
    }
    out.push(...this.route(r, false));
    return out;
  }

  private decide(r: RequestRun): RoutingDecision {
    const state: RoutingState = {
      nowMs: this.nowMs,
      servers: this.loadsFor(r),
      bannedUntilMs: r.bannedUntilMs,
      chainSessions: this.chainSessions,
    };
    const t0 = performance.now();
    const d = this.cfg.routing.route({ swarm: this.cfg.swarm, placement: this.routingPlacement, state }, this.routingRequest(r));
    const dt = performance.now() - t0;
    this.timing.routingCalls++;
    this.timing.routingMsTotal += dt;
    this.timing.routingMsMax = Math.max(this.timing.routingMsMax, dt);
    return d;
  }

  /** Routes a request now and applies the policy's admission mechanism (core/dispatch's `admit`). */
  private route(r: RequestRun, front: boolean): SimEvent[] {
    if (r.endMs !== null || r.session !== null) return [];
    const mechanism = this.cfg.routing.admission;
    const a = admit(this.decide(r), mechanism, this.admissionFor(r));
    switch (a.kind) {
      case 'start':
        if (mechanism.kind === 'fail-and-retry') {
          r.attempts = 0;
          // hivemind's Blacklist.register_success: a peer that admits the session is forgiven.
          for (const h of a.chain.hops) r.failures.delete(h.serverId);
        }
        return this.begin(r, a.chain, mechanism.kind === 'central-queue' ? a.chainIndex : undefined, a.waitMs);
      case 'refused': {
        if (mechanism.kind !== 'fail-and-retry') throw new BouquetError('internal', 'simulator: a refusal outside fail-and-retry admission');
        // The peer refuses at once: the client learns it after one round trip, bans it and backs off.
        this.registerFailure(r, a.serverId);
        r.attempts++;
        r.retries++;
        const rtt = perTokenRttMs(this.cfg.swarm, r.req.clientId, a.serverId);
        return [{ kind: 'retry', atMs: this.nowMs + rtt + mechanism.retryDelayMs(r.attempts - 1), requestId: r.req.id, front: false }];
      }
      case 'queue':
        return this.enqueue(r, front);
      case 'no-route':
        if (mechanism.kind === 'fail-and-retry') {
          r.attempts++;
          r.retries++;
          return [{ kind: 'retry', atMs: this.nowMs + mechanism.retryDelayMs(r.attempts - 1), requestId: r.req.id, front: false }];
        }
        this.stalled.push(r);
        return [];
      default: {
        const never: never = a;
        throw new BouquetError('internal', `unknown admission ${JSON.stringify(never)}`);
      }
    }
  }

  private enqueue(r: RequestRun, front: boolean): SimEvent[] {
    if (front) this.queue.pushFront(r);
    else this.queue.push(r);
    return [];
  }

  private changeSlots(s: ServerRun, delta: number): void {
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
  private registerFailure(r: RequestRun, serverId: string): void {
    const admission = this.cfg.routing.admission;
    if (admission.kind !== 'fail-and-retry') return;
    if ((r.bannedUntilMs.get(serverId) ?? -Infinity) > this.nowMs) return;
    const failures = (r.failures.get(serverId) ?? 0) + 1;
    r.failures.set(serverId, failures);
    r.bannedUntilMs.set(serverId, this.nowMs + admission.banMs(failures));
  }

  /** Holds the chain's slots now (a WS-RR booking holds them through its wait) and starts or schedules the session. */
  private begin(r: RequestRun, chain: Chain, chainIndex: number | undefined, waitMs: number): SimEvent[] {
    const lIn = r.req.inputTokens + r.generated;
    const lOut = r.req.outputTokens - r.generated;
    // What the policies' waits are computed from: the declared length at the declared τ.
    const declaredOut = Math.max(1, declaredOutputTokens(r.req) - r.generated);
    const predictedMs = requestTimeWithIndex(this.cfg.swarm, this.index, r.req.clientId, chain, lIn, declaredOut).totalMs;
    const expectedEndMs = this.nowMs + waitMs + predictedMs;
    const holds: Hold[] = [];
    const slotsOf = this.admissionFor(r).hopSlots ?? hopSlots;
    for (const h of chain.hops) {
      const s = this.servers.get(h.serverId);
      if (s === undefined) throw new BouquetError('internal', `simulator: route uses unknown server '${h.serverId}'`);
      const entry: ActiveSession = { slots: slotsOf(h.span), expectedEndMs };
      s.load.sessions.push(entry);
      this.changeSlots(s, entry.slots);
      s.holders.add(r);
      holds.push({ server: s, entry });
    }
    const { prefillMs, totalMs, computeByServer } = this.serviceTimes(r, chain, lIn, lOut);
    if (chainIndex !== undefined) this.chainSessions[chainIndex] = (this.chainSessions[chainIndex] ?? 0) + 1;
    const seq = ++r.sessionSeq;
    r.session = { seq, chain, chainIndex, holds, startMs: null, prefillMs, totalMs, computeByServer };
    if (waitMs > 0) return [{ kind: 'start', atMs: this.nowMs + waitMs, requestId: r.req.id, session: seq }];
    return this.onStart(r.req.id, seq);
  }

  /**
   * The session's actual times on `chain` for its actual lengths: core/perf's formula, with each
   * hop's compute scaled by the server's drawn speed, the contention of the sessions it holds now
   * (this one included; fixed for the session) and the mean jitter of its decode steps.
   */
  private serviceTimes(r: RequestRun, chain: Chain, lIn: number, lOut: number): { prefillMs: number; totalMs: number; computeByServer: Map<string, number> } {
    const computeByServer = new Map<string, number>();
    if (this.nominalService) {
      for (const h of chain.hops) {
        const spec = this.servers.get(h.serverId)?.spec;
        if (spec !== undefined) computeByServer.set(h.serverId, hopSlots(h.span) * (prefillMsPerBlock(spec, lIn) + (lOut - 1) * spec.decodeMsPerBlock));
      }
      return {
        prefillMs: requestTimeWithIndex(this.cfg.swarm, this.index, r.req.clientId, chain, lIn, 1).totalMs,
        totalMs: requestTimeWithIndex(this.cfg.swarm, this.index, r.req.clientId, chain, lIn, lOut).totalMs,
        computeByServer,
      };
    }
    const service = this.cfg.service;
    let prefillCompute = 0;
    let decodeCompute = 0;
    let prefillTransfer = 0;
    let decodeTransfer = 0;
    for (const h of chain.hops) {
      const s = this.servers.get(h.serverId);
      if (s === undefined) throw new BouquetError('internal', `simulator: route uses unknown server '${h.serverId}'`);
      const k = hopSlots(h.span);
      const f = (this.speedFactors.get(h.serverId) ?? 1) * contentionFactor(service?.contention, s.load.sessions.length);
      const jitter = jitterFactor(service?.stepJitterCv ?? 0, lOut - 1, this.cfg.serviceRandom);
      const pre = k * prefillMsPerBlock(s.spec, lIn) * f;
      const dec = k * (lOut - 1) * s.spec.decodeMsPerBlock * f * jitter;
      prefillCompute += pre;
      decodeCompute += dec;
      prefillTransfer += prefillRttMs(this.cfg.swarm, r.req.clientId, h.serverId, lIn);
      decodeTransfer += (lOut - 1) * perTokenRttMs(this.cfg.swarm, r.req.clientId, h.serverId);
      computeByServer.set(h.serverId, pre + dec);
    }
    const prefillMs = prefillCompute + prefillTransfer;
    return { prefillMs, totalMs: prefillMs + decodeCompute + decodeTransfer, computeByServer };
  }

  private onStart(id: number, seq: number): SimEvent[] {
    const r = this.request(id);
    const s = r.session;
    if (s === null || s.seq !== seq) return []; // the booking was lost to churn meanwhile
    s.startMs = this.nowMs;
    if (r.generated > 0) r.replayMs += s.prefillMs;
    return [{ kind: 'finish', atMs: this.nowMs + s.totalMs, requestId: id, session: seq }];
  }

  private release(r: RequestRun, s: Session, servedFraction: number): void {
    for (const { server, entry } of s.holds) {
      const i = server.load.sessions.indexOf(entry);
      if (i >= 0) server.load.sessions.splice(i, 1);
      this.changeSlots(server, -entry.slots);
      server.holders.delete(r);
      server.busyMs += (s.computeByServer.get(server.spec.id) ?? 0) * servedFraction;
    }
    if (s.chainIndex !== undefined) this.chainSessions[s.chainIndex] = (this.chainSessions[s.chainIndex] ?? 1) - 1;
    r.session = null;
  }

  private onFinish(id: number, seq: number): SimEvent[] {
    const r = this.request(id);
    const s = r.session;
    if (s === null || s.seq !== seq || s.startMs === null) return [];
    this.release(r, s, 1);
    if (r.firstTokenMs === null) r.firstTokenMs = s.startMs + s.prefillMs;
    r.serviceMs += this.nowMs - s.startMs;
    r.generated = r.req.outputTokens;
    r.endMs = this.nowMs;
    this.done++;
    // A finished request's length is history the coordinator also sees (tokens it relayed), never a prediction.
    this.seen.finished++;
    this.seen.outputTokens += r.req.outputTokens;
    return this.cfg.routing.admission.kind === 'central-queue' ? this.dispatchQueue() : [];
  }

  /** JFFC hand-off: route queue heads while a chain is free (the freed chain is then the fastest free one). */
  private dispatchQueue(): SimEvent[] {
    const out: SimEvent[] = [];
    serveQueue(this.queue, (head) => {
      const a = admit(this.decide(head), this.cfg.routing.admission, this.admissionFor(head));
      if (a.kind !== 'start') return 'wait';
      out.push(...this.begin(head, a.chain, a.chainIndex, 0));
      return 'served';
    });
    return out;
  }

  private onLeave(serverId: string): SimEvent[] {
    const srv = this.servers.get(serverId);
    if (srv === undefined || !srv.load.online) return [];
    srv.load.online = false;
    const out: SimEvent[] = [];
    const churn = this.cfg.churn;
    if (churn !== undefined && this.churnIds.has(serverId)) {
      out.push({ kind: 'server-join', atMs: this.nowMs + exponential(this.cfg.random, churn.meanOfflineMs), serverId });
    }
    out.push(...this.failOver(this.interrupt(srv)));
    out.push(...this.scheduleReplace());
    return out;
  }

  private onJoin(serverId: string): SimEvent[] {
    const srv = this.servers.get(serverId);
    if (srv === undefined || srv.load.online) return [];
    srv.load.online = true;
    const out: SimEvent[] = [];
    const churn = this.cfg.churn;
    if (churn !== undefined && this.churnIds.has(serverId)) {
      out.push({ kind: 'server-leave', atMs: this.nowMs + exponential(this.cfg.random, churn.meanOnlineMs), serverId });
    }
    out.push(...this.healed());
    out.push(...this.scheduleReplace());
    return out;
  }

  /** Capacity came back or moved: stalled requests route again, and the central queue is served. */
  private healed(): SimEvent[] {
    const out: SimEvent[] = [];
    const stalled = this.stalled;
    this.stalled = [];
    for (const r of stalled) out.push({ kind: 'retry', atMs: this.nowMs, requestId: r.req.id, front: true });
    if (this.cfg.routing.admission.kind === 'central-queue') out.push(...this.dispatchQueue());
    return out;
  }

  private scheduleReplace(): SimEvent[] {
    if (this.replacePending) return [];
    this.replacePending = true;
    return [{ kind: 'replace', atMs: this.nowMs }];
  }

  /**
   * The swarm the placement policy sees on a re-placement: the online volunteers only (as the live
   * registry); with `retune`, the workload measured so far (once 20 requests arrived and 10 finished).
   */
  onlineSwarm(): SwarmSnapshot {
    const servers = this.cfg.swarm.servers.filter((s) => this.servers.get(s.id)?.load.online === true);
    return { ...this.cfg.swarm, servers, workload: this.cfg.retune === true ? this.measuredWorkload() : this.cfg.swarm.workload };
  }

  /** The workload as the run has seen it: λ = arrivals / elapsed time, mean prompt, declared and finished output lengths. */
  private measuredWorkload(): SwarmSnapshot['workload'] {
    const w = this.cfg.swarm.workload;
    const seen = this.seen;
    if (seen.arrivals < 20 || seen.finished < 10 || !(this.nowMs > 0)) return w;
    return {
      ...w,
      arrivalRatePerS: (seen.arrivals / this.nowMs) * 1000,
      meanInputTokens: seen.inputTokens / seen.arrivals,
      meanOutputTokens: Math.max(1, seen.outputTokens / seen.finished),
      meanDeclaredTokens: seen.declaredTokens / seen.arrivals,
    };
  }

  /**
   * Re-placement after churn with `proposal` (the policy's on the online swarm; undefined when it
   * failed): reconciled, moves applied, the movers' sessions failed over, waiting requests served.
   */
  onReplace(proposal: PlacementResult | undefined): SimEvent[] {
    this.replacePending = false;
    const victims: Interrupted[] = [];
    const changed = this.reconcile(proposal, victims);
    if (this.cfg.routing.admission.kind === 'central-queue') this.rebuildChains(proposal);
    else if (!changed) return [];
    else this.routingPlacement = this.placement;
    return [...this.failOver(victims), ...this.healed()];
  }

  /**
   * Stops every session through `srv` (it vanished, or it moves and drops its sessions): counts the
   * tokens each produced and frees its slots. Returns them, by request id, with the lost hop.
   */
  private interrupt(srv: ServerRun): Interrupted[] {
    const out: Interrupted[] = [];
    for (const r of [...srv.holders].sort((a, b) => a.req.id - b.req.id)) {
      const s = r.session;
      if (s === null) continue;
      let fraction = 0;
      if (s.startMs !== null) {
        const elapsed = this.nowMs - s.startMs;
        const remaining = r.req.outputTokens - r.generated;
        let produced = 0;
        if (elapsed >= s.prefillMs) {
          const stepMs = remaining > 1 ? (s.totalMs - s.prefillMs) / (remaining - 1) : Infinity;
          produced = Math.min(remaining - 1, 1 + Math.floor((elapsed - s.prefillMs) / stepMs));
          if (r.firstTokenMs === null) r.firstTokenMs = s.startMs + s.prefillMs;
        }
        r.generated += produced;
        r.serviceMs += elapsed;
        fraction = s.totalMs > 0 ? Math.min(1, elapsed / s.totalMs) : 1;
      }
      this.release(r, s, fraction);
      r.failovers++;
      // The client bans the peer that vanished (PETALS does; harmless for the others).
      this.registerFailure(r, srv.spec.id);
      out.push({ r, chain: s.chain, lost: hopOf(s.chain, srv.spec.id)?.span ?? null });
    }
    return out;
  }

  /**
   * Failover of interrupted requests, in request order. Where the coordinator mediates routes
   * (WS-RR, JFFC) the client keeps its other hops and asks for the lost hop's blocks only (core/dispatch's
   * sub-span failover, as live); with no sub-route, and under PETALS (whose client re-routes from
   * block 0), it routes again from the start, ahead of the queue.
   */
  private failOver(victims: readonly Interrupted[]): SimEvent[] {
    const out: SimEvent[] = [];
    for (const { r, chain, lost } of victims) {
      if (r.session !== null || r.endMs !== null) continue;
      if (lost !== null && this.cfg.routing.admission.kind !== 'fail-and-retry') {
        const d = routeSubSpan(
          this.failoverRouting,
          this.cfg.swarm,
          this.placement,
          { nowMs: this.nowMs, servers: this.loadsFor(r), bannedUntilMs: r.bannedUntilMs },
          this.routingRequest(r),
          lost,
        );
        const a = admit(d, this.failoverRouting.admission, this.admissionFor(r));
        // The kept hops must still be online and hold their blocks (a reconcile may have moved one).
        const kept = chain.hops.filter((h) => h.span.end <= lost.start || h.span.start >= lost.end);
        if (a.kind === 'start' && kept.every((h) => this.serves(h.serverId, h.span))) {
          out.push(...this.begin(r, spliceChain(chain, lost, a.chain), undefined, a.waitMs));
          continue;
        }
      }
      out.push({ kind: 'retry', atMs: this.nowMs, requestId: r.req.id, front: true });
    }
    return out;
  }

  /** Whether `serverId` is online and its span in force holds `span`. */
  private serves(serverId: string, span: { start: number; end: number }): boolean {
    if (this.servers.get(serverId)?.load.online !== true) return false;
    const a = this.placement.assignments.find((x) => x.serverId === serverId);
    return a?.span !== undefined && a.span !== null && a.span.start <= span.start && span.end <= a.span.end;
  }

  /**
   * Reconcile-on-churn (core/dispatch, as the live coordinator does after a join or leave): online
   * volunteers keep their spans, idle ones fill gaps, and at most `maxMovesPerRound` redundant
   * holders move to a gap (the ones with the fewest sessions first; to their proposed span when it
   * covers the gap). A move takes effect at once (weights load instantly here) and drops the mover's
   * sessions, which join `victims`. False when nothing changes.
   */
  private reconcile(proposal: PlacementResult | undefined, victims: Interrupted[]): boolean {
    const model = this.cfg.swarm.model;
    const proposed = new Map((proposal?.assignments ?? []).map((a) => [a.serverId, a.span]));
    const online = this.placement.assignments.filter((a) => this.servers.get(a.serverId)?.load.online === true);
    const decision = reconcilePlacement(
      online.map((a) => {
        const srv = this.servers.get(a.serverId);
        return {
          peerId: a.serverId,
          current: a.span,
          isNew: false,
          proposed: proposal === undefined ? undefined : (proposed.get(a.serverId) ?? null),
          maxBlocks: srv === undefined ? 0 : maxBlocksFor(srv.spec.memoryBytes, model),
          activeSessions: srv?.holders.size ?? 0,
        };
      }),
      model.numBlocks,
      this.cfg.churn?.maxMovesPerRound ?? 1,
    );
    if (decision.changes.length === 0) return false;
    const next = new Map(this.placement.assignments.map((a) => [a.serverId, a]));
    for (const c of decision.changes) {
      const srv = this.servers.get(c.peerId);
      if (srv === undefined) continue;
      victims.push(...this.interrupt(srv));
      const blocks = c.span === null ? 0 : hopSlots(c.span);
      const slots = cacheSlots(srv.spec.memoryBytes, blocks, model.blockBytes, model.cacheBytesPerBlock);
      this.changeSlots(srv, 0); // close the slot-time integral at the old size
      srv.slots = slots;
      srv.load.freeSlots = slots;
      next.set(c.peerId, { serverId: c.peerId, span: c.span, cacheSlots: slots });
    }
    // A new object: the routing policies' caches key on it.
    const placement: PlacementResult = { ...this.placement, assignments: [...next.values()] };
    delete placement.chains;
    this.placement = placement;
    return true;
  }

  /**
   * JFFC's chain list after churn, as the live coordinator builds it: over the online volunteers'
   * spans, the proposal's chains while every hop is in force, else GCA's; running sessions are
   * recounted on it.
   */
  private rebuildChains(proposal: PlacementResult | undefined): void {
    const up = this.placement.assignments.filter((a) => this.servers.get(a.serverId)?.load.online === true);
    const upSpans = new Map(up.map((a) => [a.serverId, a.span]));
    const view: PlacementResult = { ...this.placement, assignments: up };
    delete view.chains;
    const chains = chainsInForce(proposal?.chains, (id) => upSpans.get(id));
    if (chains !== undefined) view.chains = chains;
    this.routingPlacement = view;
    this.recountChainSessions();
  }

  /** JFFC's per-chain session counts re-indexed on the new placement's chain list (sessions on a chain that no longer exists count on none). */
  private recountChainSessions(): void {
    let keys = new Map<string, number>();
    try {
      keys = new Map(dispatchChains(this.cfg.swarm, this.routingPlacement).map((c, i) => [chainKeyOf(c.chain.hops), i]));
    } catch {
      // No chain through every block: every running session counts on none until the swarm heals.
    }
    this.chainSessions.length = 0;
    for (const r of this.requests) {
      const s = r.session;
      if (s === null || s.chainIndex === undefined) continue;
      s.chainIndex = keys.get(chainKeyOf(s.chain.hops));
      if (s.chainIndex !== undefined) this.chainSessions[s.chainIndex] = (this.chainSessions[s.chainIndex] ?? 0) + 1;
    }
  }
}

/** A request whose session was stopped by churn, with the chain it had and the blocks of the hop it lost. */
interface Interrupted {
  r: RequestRun;
  chain: Chain;
  lost: { start: number; end: number } | null;
}

function eventQueue(): BinaryHeap<Queued> {
  return new BinaryHeap<Queued>((a, b) => {
    if (a.event.atMs !== b.event.atMs) return a.event.atMs < b.event.atMs;
    const ra = eventRank[a.event.kind];
    const rb = eventRank[b.event.kind];
    if (ra !== rb) return ra < rb;
    return a.seq < b.seq;
  });
}

/**
 * The event loop. `replace` answers a re-placement with the policy's proposal; the synchronous
 * loop uses the first placement's, the asynchronous one runs `cfg.replacement` on the online swarm.
 */
function* loop(cfg: SimConfig, run: Run): Generator<SimEvent & { kind: 'replace' }, SimResult, PlacementResult | undefined> {
  const heap = eventQueue();
  let seq = 0;
  for (const e of run.initialEvents()) heap.push({ event: e, seq: seq++ });
  const maxEvents = cfg.maxEvents ?? 50_000_000;
  let events = 0;
  while (run.done < run.requests.length && events < maxEvents) {
    const q = heap.pop();
    if (q === undefined) break;
    events++;
    const e = q.event;
    let out: SimEvent[];
    if (e.kind === 'replace') {
      run.nowMs = e.atMs;
      out = run.onReplace(yield e);
    } else {
      out = run.handle(e);
    }
    for (const next of out) heap.push({ event: next, seq: seq++ });
    cfg.observe?.(e, {
      nowMs: run.nowMs,
      queued: run.queue.length,
      chainSessions: run.chainSessions,
      servers: run.loads,
      placement: run.placement.assignments,
      sessionChain: (id) => run.requests[id]?.session?.chain ?? null,
    });
  }
  const metrics = summarize(run.requests, [...run.servers.values()], run.nowMs, events);
  return {
    policy: { placement: cfg.placement.policy, routing: cfg.routing.name },
    metrics,
    timing: run.timing,
  };
}

/** Runs one simulation to the end (every request finished, or nothing left that could finish one); re-placements reconcile the first placement's proposal. */
export function simulate(cfg: SimConfig): SimResult {
  const run = new Run(cfg);
  const it = loop(cfg, run);
  for (let step = it.next(); ; step = it.next(cfg.placement)) {
    if (step.done === true) return step.value;
  }
}

/**
 * Like `simulate`, but a re-placement after churn runs `cfg.replacement` (the placement policy) on
 * the online volunteers and reconciles its fresh proposal, as the live coordinator does (a failing
 * policy leaves spans as they are and gaps filled greedily). Deterministic: policies are pure.
 */
export async function simulateAsync(cfg: SimConfig): Promise<SimResult> {
  const run = new Run(cfg);
  const it = loop(cfg, run);
  let step = it.next();
  while (step.done !== true) {
    let proposal: PlacementResult | undefined = cfg.placement;
    if (cfg.replacement !== undefined) {
      const t0 = performance.now();
      try {
        proposal = await cfg.replacement(run.onlineSwarm());
      } catch {
        proposal = undefined;
      }
      run.timing.placementMs += performance.now() - t0;
    }
    step = it.next(proposal);
  }
  return step.value;
}

/** A request's declared output length (maxNewTokens; its actual length for hand-built requests without one), tokens. */
function declaredOutputTokens(req: SimRequest): number {
  return req.maxNewTokens ?? req.outputTokens;
}

/** `x` rounded to the nearest integer when within 1e-9 of it (fractional slot counts summed in floating point). */
function snapWhole(x: number): number {
  const whole = Math.round(x);
  return Math.abs(x - whole) < 1e-9 ? whole : x;
}
