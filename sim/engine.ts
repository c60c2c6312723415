// Discrete-event simulator of a swarm: the event loop (request lifecycle in sim/lifecycle.ts, churn in sim/churn.ts, state in sim/run-state.ts).
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
import type { PlacementResult } from '../core/placement/index.ts';
import { BinaryHeap } from './heap.ts';
import { exponential } from './random.ts';
import { summarize } from './metrics.ts';
import { RunState } from './run-state.ts';
import { onArrival, onFinish, onStart, route } from './lifecycle.ts';
import { onJoin, onLeave, onlineSwarm, onReplace } from './churn.ts';
import { eventRank, type SimConfig, type SimEvent, type SimResult } from './engine-types.ts';

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

/** The first events: the first arrival (each arrival schedules the next), random churn periods, scripted churn. */
function initialEvents(run: RunState): SimEvent[] {
  const out: SimEvent[] = [];
  const first = run.requests[0];
  if (first !== undefined) out.push({ kind: 'arrival', atMs: first.req.arrivalMs, requestId: 0 });
  const churn = run.cfg.churn;
  if (churn !== undefined) {
    for (const id of run.servers.keys()) {
      if (run.churnIds.has(id)) out.push({ kind: 'server-leave', atMs: exponential(run.cfg.random, churn.meanOnlineMs), serverId: id });
    }
  }
  for (const t of run.cfg.churnTrace ?? []) out.push({ kind: t.kind, atMs: t.atMs, serverId: t.serverId });
  return out;
}

/** Handles one event (sim/lifecycle.ts, sim/churn.ts) and returns the events it causes. */
function handle(run: RunState, e: SimEvent): SimEvent[] {
  run.nowMs = e.atMs;
  switch (e.kind) {
    case 'arrival':
      return onArrival(run, e.requestId);
    case 'start':
      return onStart(run, e.requestId, e.session);
    case 'finish':
      return onFinish(run, e.requestId, e.session);
    case 'retry':
      return route(run, run.request(e.requestId), e.front);
    case 'server-leave':
      return onLeave(run, e.serverId);
    case 'server-join':
      return onJoin(run, e.serverId);
    case 'replace':
      return onReplace(run, run.cfg.placement);
    default: {
      const never: never = e;
      throw new BouquetError('internal', `unknown event ${JSON.stringify(never)}`);
    }
  }
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
function* loop(cfg: SimConfig, run: RunState): Generator<SimEvent & { kind: 'replace' }, SimResult, PlacementResult | undefined> {
  const heap = eventQueue();
  let seq = 0;
  for (const e of initialEvents(run)) heap.push({ event: e, seq: seq++ });
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
      out = onReplace(run, yield e);
    } else {
      out = handle(run, e);
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
    churn: run.churnLog,
  };
}

/** Runs one simulation to the end (every request finished, or nothing left that could finish one); re-placements reconcile the first placement's proposal. */
export function simulate(cfg: SimConfig): SimResult {
  const run = new RunState(cfg);
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
  const run = new RunState(cfg);
  const it = loop(cfg, run);
  let step = it.next();
  while (step.done !== true) {
    let proposal: PlacementResult | undefined = cfg.placement;
    if (cfg.replacement !== undefined) {
      const t0 = performance.now();
      try {
        proposal = await cfg.replacement(onlineSwarm(run));
      } catch {
        proposal = undefined;
      }
      run.timing.placementMs += performance.now() - t0;
    }
    step = it.next(proposal);
  }
  return step.value;
}
