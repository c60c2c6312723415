// Discrete-event simulator of a swarm: arrivals, cache slots, each routing policy's admission, churn with failover.
//
// Events are plain data. Handlers read the run's state, update it, and return the events they
// cause; only `simulate`'s loop touches the event queue (a binary heap). Events at the same time
// are processed in this order (then in the order they were scheduled):
//
//   1 finish        a session ends and frees its slots before anything at that instant wants them
//   2 server-leave  a volunteer goes away; its sessions fail over
//   3 server-join   a volunteer comes back; stalled requests are routed again
//   4 start         a WS-RR request whose wait is over begins
//   5 retry         a request is routed again (PETALS backoff, failover)
//   6 arrival       a new request arrives
//
// Service times come from core/perf's performance model (the same for every policy; concurrency
// costs memory, not time). Randomness: the requests are drawn before the run; churn draws from its
// own seeded stream, so every policy sees the same arrivals and the same churn for a seed.
import { BouquetError } from '../core/errors/index.ts';
import type { SwarmSnapshot, Chain, ServerSpec } from '../core/swarm/index.ts';
import { perTokenRttMs, prefillMsPerBlock, requestTimeWithIndex, type ActiveSession } from '../core/perf/index.ts';
import type { PlacementResult } from '../core/placement/index.ts';
import { serverIndex, type RoutingDecision, type RoutingPolicy, type RoutingState, type ServerIndex, type ServerLoad } from '../core/routing/index.ts';
import { BinaryHeap } from './heap.ts';
import { exponential, type Random } from './random.ts';
import type { SimRequest } from './arrivals.ts';
import { summarize, type SimMetrics } from './metrics.ts';

/** Volunteers leaving and coming back: alternating exponential online / offline periods. */
export interface ChurnSpec {
  /** Mean time a volunteer stays online, ms. */
  meanOnlineMs: number;
  /** Mean time it stays away before it comes back with the same blocks (weights cached), ms. */
  meanOfflineMs: number;
  /** Ids of the volunteers that churn (default: all). */
  serverIds?: string[];
}

/** Everything one run needs. */
export interface SimConfig {
  swarm: SwarmSnapshot;
  placement: PlacementResult;
  routing: RoutingPolicy;
  requests: readonly SimRequest[];
  churn?: ChurnSpec;
  /** Churn randomness (its own stream, independent of the arrivals). */
  random: Random;
  /** Stop after this many events (a guard against runaway runs); default 50 million. */
  maxEvents?: number;
  /** Called after each event with a read-only view of the run (tests check invariants with it). */
  observe?: (event: SimEvent, view: SimView) => void;
}

/** What an observer may read after an event. */
export interface SimView {
  nowMs: number;
  /** Requests waiting in the central queue (JFFC). */
  queued: number;
  /** Sessions per chain index (JFFC). */
  chainSessions: readonly number[];
  /** Live load per server. */
  servers: ReadonlyMap<string, ServerLoad>;
}

/** The simulator's events: plain data. */
export type SimEvent =
  | { kind: 'finish'; atMs: number; requestId: number; session: number }
  | { kind: 'server-leave'; atMs: number; serverId: string }
  | { kind: 'server-join'; atMs: number; serverId: string }
  | { kind: 'start'; atMs: number; requestId: number; session: number }
  | { kind: 'retry'; atMs: number; requestId: number; front: boolean }
  | { kind: 'arrival'; atMs: number; requestId: number };

/** Tie-break rank of each event kind at equal times (see the table at the top of this file). */
export const eventRank: Record<SimEvent['kind'], number> = {
  finish: 1,
  'server-leave': 2,
  'server-join': 3,
  start: 4,
  retry: 5,
  arrival: 6,
};

interface Queued {
  event: SimEvent;
  seq: number;
}

interface Hold {
  server: ServerRun;
  entry: ActiveSession;
}

interface Session {
  seq: number;
  chain: Chain;
  chainIndex: number | undefined;
  holds: Hold[];
  /** When it started serving; null while a WS-RR booking waits. */
  startMs: number | null;
  prefillMs: number;
  totalMs: number;
  /** Compute per server over the whole session, ms (for utilization). */
  computeByServer: Map<string, number>;
}

/** Per-request outcome the metrics read. */
export interface RequestRun {
  req: SimRequest;
  generated: number;
  failures: Map<string, number>;
  bannedUntilMs: Map<string, number>;
  /** Consecutive failed admissions (PETALS backoff index). */
  attempts: number;
  session: Session | null;
  sessionSeq: number;
  firstTokenMs: number | null;
  endMs: number | null;
  serviceMs: number;
  replayMs: number;
  retries: number;
  failovers: number;
}

/** Per-server accounting the metrics read. */
export interface ServerRun {
  spec: ServerSpec;
  slots: number;
  load: { online: boolean; freeSlots: number; sessions: ActiveSession[] };
  holders: Set<RequestRun>;
  slotMsIntegral: number;
  lastChangeMs: number;
  busyMs: number;
}

/** Timing of the policy code itself (wall clock; not deterministic, kept apart from the results). */
export interface AlgorithmTiming {
  routingCalls: number;
  routingMsTotal: number;
  routingMsMax: number;
  placementMs: number;
}

/** The result of one run. */
export interface SimResult {
  policy: { placement: string; routing: string };
  metrics: SimMetrics;
  timing: AlgorithmTiming;
}

class Run {
  readonly servers = new Map<string, ServerRun>();
  readonly loads = new Map<string, ServerLoad>();
  readonly requests: RequestRun[];
  readonly chainSessions: number[] = [];
  /** The central FIFO queue (JFFC); `queueHead` indexes its first live element. */
  queue: RequestRun[] = [];
  queueHead = 0;
  /** Requests that found no chain at all (churn): routed again when a volunteer comes back. */
  stalled: RequestRun[] = [];
  done = 0;
  nowMs = 0;
  readonly timing: AlgorithmTiming;
  private readonly index: ServerIndex;
  private readonly churnIds: Set<string>;

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
    // FIFO: while anyone waits in the central queue, a newcomer joins its tail.
    if (this.cfg.routing.admission.kind === 'central-queue' && this.queueHead < this.queue.length) {
      this.queue.push(r);
      return out;
    }
    out.push(...this.route(r, false));
    return out;
  }

  private decide(r: RequestRun): RoutingDecision {
    const state: RoutingState = {
      nowMs: this.nowMs,
      servers: this.loads,
      bannedUntilMs: r.bannedUntilMs,
      chainSessions: this.chainSessions,
    };
    const t0 = performance.now();
    const d = this.cfg.routing.route(
      { swarm: this.cfg.swarm, placement: this.cfg.placement, state },
      { clientId: r.req.clientId, inputTokens: r.req.inputTokens + r.generated, outputTokens: r.req.outputTokens - r.generated },
    );
    const dt = performance.now() - t0;
    this.timing.routingCalls++;
    this.timing.routingMsTotal += dt;
    this.timing.routingMsMax = Math.max(this.timing.routingMsMax, dt);
    return d;
  }

  /** Routes a request now and applies the policy's admission mechanism. */
  private route(r: RequestRun, front: boolean): SimEvent[] {
    if (r.endMs !== null || r.session !== null) return [];
    const d = this.decide(r);
    const admission = this.cfg.routing.admission;
    switch (d.kind) {
      case 'route': {
        switch (admission.kind) {
          case 'fail-and-retry': {
            const refusing = d.chain.hops.find((h) => {
              const s = this.servers.get(h.serverId);
              return s === undefined || s.load.freeSlots < h.span.end - h.span.start;
            });
            if (refusing !== undefined) {
              // The peer refuses at once: the client learns it after one round trip, bans it and backs off.
              this.registerFailure(r, refusing.serverId);
              r.attempts++;
              r.retries++;
              const rtt = perTokenRttMs(this.cfg.swarm, r.req.clientId, refusing.serverId);
              return [{ kind: 'retry', atMs: this.nowMs + rtt + admission.retryDelayMs(r.attempts - 1), requestId: r.req.id, front: false }];
            }
            r.attempts = 0;
            // hivemind's Blacklist.register_success: a peer that admits the session is forgiven.
            for (const h of d.chain.hops) r.failures.delete(h.serverId);
            return this.begin(r, d.chain, undefined, 0);
          }
          case 'wait-for-slots':
            return this.begin(r, d.chain, undefined, d.expectedWaitMs);
          case 'central-queue': {
            const fits = d.chain.hops.every((h) => (this.servers.get(h.serverId)?.load.freeSlots ?? 0) >= h.span.end - h.span.start);
            if (!fits) return this.enqueue(r, front);
            return this.begin(r, d.chain, d.chainIndex, 0);
          }
          default: {
            const never: never = admission;
            throw new BouquetError('internal', `unknown admission ${JSON.stringify(never)}`);
          }
        }
      }
      case 'queue':
        return this.enqueue(r, front);
      case 'no-route':
        if (admission.kind === 'fail-and-retry') {
          r.attempts++;
          r.retries++;
          return [{ kind: 'retry', atMs: this.nowMs + admission.retryDelayMs(r.attempts - 1), requestId: r.req.id, front: false }];
        }
        this.stalled.push(r);
        return [];
      default: {
        const never: never = d;
        throw new BouquetError('internal', `unknown decision ${JSON.stringify(never)}`);
      }
    }
  }

  private enqueue(r: RequestRun, front: boolean): SimEvent[] {
    if (front) {
      if (this.queueHead > 0) this.queue[--this.queueHead] = r;
      else this.queue.unshift(r);
    } else {
      this.queue.push(r);
    }
    return [];
  }

  private changeSlots(s: ServerRun, delta: number): void {
    s.slotMsIntegral += (s.slots - s.load.freeSlots) * (this.nowMs - s.lastChangeMs);
    s.lastChangeMs = this.nowMs;
    s.load.freeSlots -= delta;
  }

  /** Holds the chain's slots now (a WS-RR booking holds them through its wait) and starts or schedules the session. */
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

  private begin(r: RequestRun, chain: Chain, chainIndex: number | undefined, waitMs: number): SimEvent[] {
    const lIn = r.req.inputTokens + r.generated;
    const lOut = r.req.outputTokens - r.generated;
    // The performance model's time (core/perf requestTime's formula), the same for every policy.
    const prefillMs = requestTimeWithIndex(this.cfg.swarm, this.index, r.req.clientId, chain, lIn, 1).totalMs;
    const totalMs = requestTimeWithIndex(this.cfg.swarm, this.index, r.req.clientId, chain, lIn, lOut).totalMs;
    const expectedEndMs = this.nowMs + waitMs + totalMs;
    const holds: Hold[] = [];
    const computeByServer = new Map<string, number>();
    for (const h of chain.hops) {
      const s = this.servers.get(h.serverId);
      if (s === undefined) throw new BouquetError('internal', `simulator: route uses unknown server '${h.serverId}'`);
      const k = h.span.end - h.span.start;
      const entry: ActiveSession = { slots: k, expectedEndMs };
      s.load.sessions.push(entry);
      this.changeSlots(s, k);
      s.holders.add(r);
      holds.push({ server: s, entry });
      computeByServer.set(h.serverId, k * (prefillMsPerBlock(s.spec, lIn) + (lOut - 1) * s.spec.decodeMsPerBlock));
    }
    if (chainIndex !== undefined) this.chainSessions[chainIndex] = (this.chainSessions[chainIndex] ?? 0) + 1;
    const seq = ++r.sessionSeq;
    r.session = { seq, chain, chainIndex, holds, startMs: null, prefillMs, totalMs, computeByServer };
    if (waitMs > 0) return [{ kind: 'start', atMs: this.nowMs + waitMs, requestId: r.req.id, session: seq }];
    return this.onStart(r.req.id, seq);
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
    return this.cfg.routing.admission.kind === 'central-queue' ? this.dispatchQueue() : [];
  }

  /** JFFC hand-off: route queue heads while a chain is free (the freed chain is then the fastest free one). */
  private dispatchQueue(): SimEvent[] {
    const out: SimEvent[] = [];
    while (this.queueHead < this.queue.length) {
      const head = this.queue[this.queueHead];
      if (head === undefined) break;
      const d = this.decide(head);
      if (d.kind !== 'route') break;
      const fits = d.chain.hops.every((h) => (this.servers.get(h.serverId)?.load.freeSlots ?? 0) >= h.span.end - h.span.start);
      if (!fits) break;
      this.queueHead++;
      out.push(...this.begin(head, d.chain, d.chainIndex, 0));
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return out;
  }

  private onLeave(serverId: string): SimEvent[] {
    const srv = this.servers.get(serverId);
    const churn = this.cfg.churn;
    if (srv === undefined || churn === undefined || !srv.load.online) return [];
    srv.load.online = false;
    const out: SimEvent[] = [{ kind: 'server-join', atMs: this.nowMs + exponential(this.cfg.random, churn.meanOfflineMs), serverId }];
    const victims = [...srv.holders].sort((a, b) => a.req.id - b.req.id);
    for (const r of victims) {
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
      // The client bans the peer that vanished (PETALS does; harmless for the others) and routes again at once.
      this.registerFailure(r, serverId);
      out.push({ kind: 'retry', atMs: this.nowMs, requestId: r.req.id, front: true });
    }
    return out;
  }

  private onJoin(serverId: string): SimEvent[] {
    const srv = this.servers.get(serverId);
    const churn = this.cfg.churn;
    if (srv === undefined || churn === undefined || srv.load.online) return [];
    srv.load.online = true;
    const out: SimEvent[] = [{ kind: 'server-leave', atMs: this.nowMs + exponential(this.cfg.random, churn.meanOnlineMs), serverId }];
    const stalled = this.stalled;
    this.stalled = [];
    for (const r of stalled) out.push({ kind: 'retry', atMs: this.nowMs, requestId: r.req.id, front: true });
    if (this.cfg.routing.admission.kind === 'central-queue') out.push(...this.dispatchQueue());
    return out;
  }
}

/** Runs one simulation to the end (every request finished, or nothing left that could finish one). */
export function simulate(cfg: SimConfig): SimResult {
  const run = new Run(cfg);
  const heap = new BinaryHeap<Queued>((a, b) => {
    if (a.event.atMs !== b.event.atMs) return a.event.atMs < b.event.atMs;
    const ra = eventRank[a.event.kind];
    const rb = eventRank[b.event.kind];
    if (ra !== rb) return ra < rb;
    return a.seq < b.seq;
  });
  let seq = 0;
  for (const e of run.initialEvents()) heap.push({ event: e, seq: seq++ });
  const maxEvents = cfg.maxEvents ?? 50_000_000;
  let events = 0;
  while (run.done < run.requests.length && events < maxEvents) {
    const q = heap.pop();
    if (q === undefined) break;
    events++;
    for (const e of run.handle(q.event)) heap.push({ event: e, seq: seq++ });
    cfg.observe?.(q.event, { nowMs: run.nowMs, queued: run.queue.length - run.queueHead, chainSessions: run.chainSessions, servers: run.loads });
  }
  const metrics = summarize(run.requests, [...run.servers.values()], run.nowMs, events);
  return {
    policy: { placement: cfg.placement.policy, routing: cfg.routing.name },
    metrics,
    timing: run.timing,
  };
}
