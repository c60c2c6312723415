// A request's lifecycle in the simulator: arrival, routing under the policy's admission, the session's service times, finish and the JFFC hand-off.
import { BouquetError } from '../core/errors/index.ts';
import type { Chain } from '../core/swarm/index.ts';
import { clientWorkMs, perTokenRttMs, prefillMsPerBlock, prefillRttMs, requestTimeWithIndex, type ActiveSession } from '../core/perf/index.ts';
import type { RoutingDecision, RoutingState } from '../core/routing/index.ts';
import { admit, hopSlots, serveQueue } from '../core/dispatch/index.ts';
import { contentionFactor, jitterFactor } from './service.ts';
import { declaredOutputTokens, type RunState } from './run-state.ts';
import type { Hold, RequestRun, Session, SimEvent } from './engine-types.ts';

export function onArrival(run: RunState, id: number): SimEvent[] {
  const out: SimEvent[] = [];
  const next = run.requests[id + 1];
  if (next !== undefined) out.push({ kind: 'arrival', atMs: next.req.arrivalMs, requestId: id + 1 });
  const r = run.request(id);
  run.seen.arrivals++;
  run.seen.inputTokens += r.req.inputTokens;
  run.seen.declaredTokens += Math.min(run.slotTokens, r.req.inputTokens + declaredOutputTokens(r.req));
  // FIFO: while anyone waits in the central queue, a newcomer joins its tail.
  if (run.cfg.routing.admission.kind === 'central-queue' && run.queue.length > 0) {
    run.queue.push(r);
    return out;
  }
  out.push(...route(run, r, false));
  return out;
}

function decide(run: RunState, r: RequestRun): RoutingDecision {
  const state: RoutingState = {
    nowMs: run.nowMs,
    servers: run.loadsFor(r),
    bannedUntilMs: r.bannedUntilMs,
    chainSessions: run.chainSessions,
  };
  const t0 = performance.now();
  const d = run.cfg.routing.route({ swarm: run.cfg.swarm, placement: run.routingPlacement, state }, run.routingRequest(r));
  const dt = performance.now() - t0;
  run.timing.routingCalls++;
  run.timing.routingMsTotal += dt;
  run.timing.routingMsMax = Math.max(run.timing.routingMsMax, dt);
  return d;
}

/** Routes a request now and applies the policy's admission mechanism (core/dispatch's `admit`). */
export function route(run: RunState, r: RequestRun, front: boolean): SimEvent[] {
  if (r.endMs !== null || r.session !== null) return [];
  const mechanism = run.cfg.routing.admission;
  const a = admit(decide(run, r), mechanism, run.admissionFor(r));
  switch (a.kind) {
    case 'start':
      if (mechanism.kind === 'fail-and-retry') {
        r.attempts = 0;
        // hivemind's Blacklist.register_success: a peer that admits the session is forgiven.
        for (const h of a.chain.hops) r.failures.delete(h.serverId);
      }
      return begin(run, r, a.chain, mechanism.kind === 'central-queue' ? a.chainIndex : undefined, a.waitMs);
    case 'refused': {
      if (mechanism.kind !== 'fail-and-retry') throw new BouquetError('internal', 'simulator: a refusal outside fail-and-retry admission');
      // The peer refuses at once: the client learns it after one round trip, bans it and backs off.
      run.registerFailure(r, a.serverId);
      r.attempts++;
      r.retries++;
      const rtt = perTokenRttMs(run.cfg.swarm, r.req.clientId, a.serverId);
      return [{ kind: 'retry', atMs: run.nowMs + rtt + mechanism.retryDelayMs(r.attempts - 1), requestId: r.req.id, front: false }];
    }
    case 'queue':
      if (front) run.queue.pushFront(r);
      else run.queue.push(r);
      return [];
    case 'no-route':
      if (mechanism.kind === 'fail-and-retry') {
        r.attempts++;
        r.retries++;
        return [{ kind: 'retry', atMs: run.nowMs + mechanism.retryDelayMs(r.attempts - 1), requestId: r.req.id, front: false }];
      }
      run.stalled.push(r);
      return [];
    default: {
      const never: never = a;
      throw new BouquetError('internal', `unknown admission ${JSON.stringify(never)}`);
    }
  }
}

/** Holds the chain's slots now (a WS-RR booking holds them through its wait) and starts or schedules the session. */
export function begin(run: RunState, r: RequestRun, chain: Chain, chainIndex: number | undefined, waitMs: number): SimEvent[] {
  const lIn = r.req.inputTokens + r.generated;
  const lOut = r.req.outputTokens - r.generated;
  // What the policies' waits are computed from: the declared length at the declared τ.
  const declaredOut = Math.max(1, declaredOutputTokens(r.req) - r.generated);
  const predictedMs = requestTimeWithIndex(run.cfg.swarm, run.index, r.req.clientId, chain, lIn, declaredOut).totalMs;
  const expectedEndMs = run.nowMs + waitMs + predictedMs;
  const holds: Hold[] = [];
  const slotsOf = run.admissionFor(r).hopSlots ?? hopSlots;
  for (const h of chain.hops) {
    const s = run.servers.get(h.serverId);
    if (s === undefined) throw new BouquetError('internal', `simulator: route uses unknown server '${h.serverId}'`);
    const entry: ActiveSession = { slots: slotsOf(h.span), expectedEndMs };
    s.load.sessions.push(entry);
    run.changeSlots(s, entry.slots);
    s.holders.add(r);
    holds.push({ server: s, entry });
  }
  const { prefillMs, totalMs, computeByServer } = serviceTimes(run, r, chain, lIn, lOut);
  if (chainIndex !== undefined) run.chainSessions[chainIndex] = (run.chainSessions[chainIndex] ?? 0) + 1;
  const seq = ++r.sessionSeq;
  r.session = { seq, chain, chainIndex, holds, startMs: null, prefillMs, totalMs, computeByServer };
  if (waitMs > 0) return [{ kind: 'start', atMs: run.nowMs + waitMs, requestId: r.req.id, session: seq }];
  return onStart(run, r.req.id, seq);
}

/**
 * The session's actual times on `chain` for its actual lengths: core/perf's formula, with each
 * hop's compute scaled by the server's drawn speed, the contention of the sessions it holds now
 * (this one included; fixed for the session) and the mean jitter of its decode steps.
 */
function serviceTimes(run: RunState, r: RequestRun, chain: Chain, lIn: number, lOut: number): { prefillMs: number; totalMs: number; computeByServer: Map<string, number> } {
  const computeByServer = new Map<string, number>();
  if (run.nominalService) {
    for (const h of chain.hops) {
      const spec = run.servers.get(h.serverId)?.spec;
      if (spec !== undefined) computeByServer.set(h.serverId, hopSlots(h.span) * (prefillMsPerBlock(spec, lIn) + (lOut - 1) * spec.decodeMsPerBlock));
    }
    return {
      prefillMs: requestTimeWithIndex(run.cfg.swarm, run.index, r.req.clientId, chain, lIn, 1).totalMs,
      totalMs: requestTimeWithIndex(run.cfg.swarm, run.index, r.req.clientId, chain, lIn, lOut).totalMs,
      computeByServer,
    };
  }
  const service = run.cfg.service;
  let prefillCompute = 0;
  let decodeCompute = 0;
  let prefillTransfer = 0;
  let decodeTransfer = 0;
  for (const h of chain.hops) {
    const s = run.servers.get(h.serverId);
    if (s === undefined) throw new BouquetError('internal', `simulator: route uses unknown server '${h.serverId}'`);
    const k = hopSlots(h.span);
    const f = (run.speedFactors.get(h.serverId) ?? 1) * contentionFactor(service?.contention, s.load.sessions.length);
    const jitter = jitterFactor(service?.stepJitterCv ?? 0, lOut - 1, run.cfg.serviceRandom);
    const pre = k * prefillMsPerBlock(s.spec, lIn) * f;
    const dec = k * (lOut - 1) * s.spec.decodeMsPerBlock * f * jitter;
    prefillCompute += pre;
    decodeCompute += dec;
    prefillTransfer += prefillRttMs(run.cfg.swarm, r.req.clientId, h.serverId, lIn);
    decodeTransfer += (lOut - 1) * perTokenRttMs(run.cfg.swarm, r.req.clientId, h.serverId);
    computeByServer.set(h.serverId, pre + dec);
  }
  // The client's own work: one token's for the prefill (its first token), the rest with the decode.
  const prefillMs = prefillCompute + prefillTransfer + clientWorkMs(run.cfg.swarm, r.req.clientId, 1);
  return { prefillMs, totalMs: prefillMs + decodeCompute + decodeTransfer + clientWorkMs(run.cfg.swarm, r.req.clientId, lOut - 1), computeByServer };
}

export function onStart(run: RunState, id: number, seq: number): SimEvent[] {
  const r = run.request(id);
  const s = r.session;
  if (s === null || s.seq !== seq) return []; // the booking was lost to churn meanwhile
  s.startMs = run.nowMs;
  if (r.generated > 0) r.replayMs += s.prefillMs;
  return [{ kind: 'finish', atMs: run.nowMs + s.totalMs, requestId: id, session: seq }];
}

/** Frees a session's slots; `servedFraction` of its compute counts towards the servers' busy time. */
export function release(run: RunState, r: RequestRun, s: Session, servedFraction: number): void {
  for (const { server, entry } of s.holds) {
    const i = server.load.sessions.indexOf(entry);
    if (i >= 0) server.load.sessions.splice(i, 1);
    run.changeSlots(server, -entry.slots);
    server.holders.delete(r);
    server.busyMs += (s.computeByServer.get(server.spec.id) ?? 0) * servedFraction;
  }
  if (s.chainIndex !== undefined) run.chainSessions[s.chainIndex] = (run.chainSessions[s.chainIndex] ?? 1) - 1;
  r.session = null;
}

export function onFinish(run: RunState, id: number, seq: number): SimEvent[] {
  const r = run.request(id);
  const s = r.session;
  if (s === null || s.seq !== seq || s.startMs === null) return [];
  release(run, r, s, 1);
  if (r.firstTokenMs === null) r.firstTokenMs = s.startMs + s.prefillMs;
  r.serviceMs += run.nowMs - s.startMs;
  r.generated = r.req.outputTokens;
  r.endMs = run.nowMs;
  run.done++;
  // A finished request's length is history the coordinator also sees (tokens it relayed), never a prediction.
  run.seen.finished++;
  run.seen.outputTokens += r.req.outputTokens;
  return run.cfg.routing.admission.kind === 'central-queue' ? dispatchQueue(run) : [];
}

/**
 * JFFC hand-off: route queue heads while a chain is free (the freed chain is then the fastest free
 * one). A head with no route now leaves the queue for the stalled list (retried when the swarm
 * changes), as the live coordinator answers it `no-route`, so it holds nobody behind it.
 */
export function dispatchQueue(run: RunState): SimEvent[] {
  const out: SimEvent[] = [];
  serveQueue(run.queue, (head) => {
    const a = admit(decide(run, head), run.cfg.routing.admission, run.admissionFor(head));
    if (a.kind === 'no-route') {
      run.stalled.push(head);
      return 'served';
    }
    if (a.kind !== 'start') return 'wait';
    out.push(...begin(run, head, a.chain, a.chainIndex, 0));
    return 'served';
  });
  return out;
}
