// Churn in the simulator: volunteers leaving and joining, failover of their sessions, and re-placement reconciled with the move budget.
import type { BlockSpan, SwarmSnapshot, Chain } from '../core/swarm/index.ts';
import { cacheSlots } from '../core/perf/index.ts';
import type { PlacementResult } from '../core/placement/index.ts';
import { dispatchChains } from '../core/routing/index.ts';
import { admit, chainKeyOf, chainsInForce, hopOf, hopSlots, maxBlocksFor, rebalanceMoves, reconcilePlacement, routeSubSpan, spliceChain, wholeSlotMoves } from '../core/dispatch/index.ts';
import { exponential } from './random.ts';
import { begin, dispatchQueue, release } from './lifecycle.ts';
import type { RunState } from './run-state.ts';
import type { RequestRun, ServerRun, SimEvent } from './engine-types.ts';

/** A request whose session was stopped by churn, with the chain it had and the blocks of the hop it lost. */
interface Interrupted {
  r: RequestRun;
  chain: Chain;
  lost: { start: number; end: number } | null;
}

export function onLeave(run: RunState, serverId: string): SimEvent[] {
  const srv = run.servers.get(serverId);
  if (srv === undefined || !srv.load.online) return [];
  srv.load.online = false;
  run.churnLog.push({ kind: 'server-leave', atMs: run.nowMs, serverId });
  const out: SimEvent[] = [];
  const churn = run.cfg.churn;
  if (churn !== undefined && run.churnIds.has(serverId)) {
    out.push({ kind: 'server-join', atMs: run.nowMs + exponential(run.cfg.random, churn.meanOfflineMs), serverId });
  }
  out.push(...failOver(run, interrupt(run, srv)));
  out.push(...scheduleReplace(run));
  return out;
}

export function onJoin(run: RunState, serverId: string): SimEvent[] {
  const srv = run.servers.get(serverId);
  if (srv === undefined || srv.load.online) return [];
  srv.load.online = true;
  run.churnLog.push({ kind: 'server-join', atMs: run.nowMs, serverId });
  const out: SimEvent[] = [];
  const churn = run.cfg.churn;
  if (churn !== undefined && run.churnIds.has(serverId)) {
    out.push({ kind: 'server-leave', atMs: run.nowMs + exponential(run.cfg.random, churn.meanOnlineMs), serverId });
  }
  out.push(...healed(run));
  out.push(...scheduleReplace(run));
  return out;
}

/** Capacity came back or moved: stalled requests route again, and the central queue is served. */
function healed(run: RunState): SimEvent[] {
  const out: SimEvent[] = [];
  const stalled = run.stalled;
  run.stalled = [];
  for (const r of stalled) out.push({ kind: 'retry', atMs: run.nowMs, requestId: r.req.id, front: true });
  if (run.cfg.routing.admission.kind === 'central-queue') out.push(...dispatchQueue(run));
  return out;
}

function scheduleReplace(run: RunState): SimEvent[] {
  if (run.replacePending) return [];
  run.replacePending = true;
  return [{ kind: 'replace', atMs: run.nowMs }];
}

/**
 * The swarm the placement policy sees on a re-placement: the online volunteers only (as the live
 * registry); with `retune`, the workload measured so far (once 20 requests arrived and 10 finished).
 */
export function onlineSwarm(run: RunState): SwarmSnapshot {
  const servers = run.cfg.swarm.servers.filter((s) => run.servers.get(s.id)?.load.online === true);
  return { ...run.cfg.swarm, servers, workload: run.cfg.retune === true ? measuredWorkload(run) : run.cfg.swarm.workload };
}

/** The workload as the run has seen it: λ = arrivals / elapsed time, mean prompt, declared and finished output lengths. */
function measuredWorkload(run: RunState): SwarmSnapshot['workload'] {
  const w = run.cfg.swarm.workload;
  const seen = run.seen;
  if (seen.arrivals < 20 || seen.finished < 10 || !(run.nowMs > 0)) return w;
  return {
    ...w,
    arrivalRatePerS: (seen.arrivals / run.nowMs) * 1000,
    meanInputTokens: seen.inputTokens / seen.arrivals,
    meanOutputTokens: Math.max(1, seen.outputTokens / seen.finished),
    meanDeclaredTokens: seen.declaredTokens / seen.arrivals,
  };
}

/**
 * Re-placement after churn with `proposal` (the policy's on the online swarm; undefined when it
 * failed): reconciled, moves applied, the movers' sessions failed over, waiting requests served.
 */
export function onReplace(run: RunState, proposal: PlacementResult | undefined): SimEvent[] {
  run.replacePending = false;
  const victims: Interrupted[] = [];
  const changed = reconcile(run, proposal, victims);
  if (run.cfg.routing.admission.kind === 'central-queue') rebuildChains(run, proposal);
  else if (!changed) return [];
  else run.routingPlacement = run.placement;
  return [...failOver(run, victims), ...healed(run)];
}

/**
 * Stops every session through `srv` (it vanished, or it moves and drops its sessions): counts the
 * tokens each produced and frees its slots. Returns them, by request id, with the lost hop.
 */
function interrupt(run: RunState, srv: ServerRun): Interrupted[] {
  const out: Interrupted[] = [];
  for (const r of [...srv.holders].sort((a, b) => a.req.id - b.req.id)) {
    const s = r.session;
    if (s === null) continue;
    let fraction = 0;
    if (s.startMs !== null) {
      const elapsed = run.nowMs - s.startMs;
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
    release(run, r, s, fraction);
    r.failovers++;
    // The client bans the peer that vanished (PETALS does; harmless for the others).
    run.registerFailure(r, srv.spec.id);
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
function failOver(run: RunState, victims: readonly Interrupted[]): SimEvent[] {
  const out: SimEvent[] = [];
  for (const { r, chain, lost } of victims) {
    if (r.session !== null || r.endMs !== null) continue;
    if (lost !== null && run.cfg.routing.admission.kind !== 'fail-and-retry') {
      const d = routeSubSpan(
        run.failoverRouting,
        run.cfg.swarm,
        run.placement,
        { nowMs: run.nowMs, servers: run.loadsFor(r), bannedUntilMs: r.bannedUntilMs },
        run.routingRequest(r),
        lost,
      );
      const a = admit(d, run.failoverRouting.admission, run.admissionFor(r));
      // The kept hops must still be online and hold their blocks (a reconcile may have moved one).
      const kept = chain.hops.filter((h) => h.span.end <= lost.start || h.span.start >= lost.end);
      if (a.kind === 'start' && kept.every((h) => serves(run, h.serverId, h.span))) {
        out.push(...begin(run, r, spliceChain(chain, lost, a.chain), undefined, a.waitMs));
        continue;
      }
    }
    out.push({ kind: 'retry', atMs: run.nowMs, requestId: r.req.id, front: true });
  }
  return out;
}

/** Whether `serverId` is online and its span in force holds `span`. */
function serves(run: RunState, serverId: string, span: { start: number; end: number }): boolean {
  if (run.servers.get(serverId)?.load.online !== true) return false;
  const a = run.placement.assignments.find((x) => x.serverId === serverId);
  return a?.span !== undefined && a.span !== null && a.span.start <= span.start && span.end <= a.span.end;
}

/**
 * Reconcile-on-churn (core/dispatch, as the live coordinator does after a join or leave): online
 * volunteers keep their spans, idle ones fill gaps, and at most `maxMovesPerRound` redundant
 * holders move to a gap (the ones with the fewest sessions first; to their proposed span when it
 * covers the gap). With `rebalance`, covering volunteers may then move to their proposed spans
 * where the predicted gain outweighs the reload (core/dispatch `rebalanceMoves`), within what is
 * left of the budget. A move takes effect at once (weights load instantly here; the reload time
 * enters only the decision) and drops the mover's sessions, which join `victims`. False when
 * nothing changes.
 */
function reconcile(run: RunState, proposal: PlacementResult | undefined, victims: Interrupted[]): boolean {
  const model = run.cfg.swarm.model;
  const proposed = new Map((proposal?.assignments ?? []).map((a) => [a.serverId, a.span]));
  const online = run.placement.assignments.filter((a) => run.servers.get(a.serverId)?.load.online === true);
  const decision = reconcilePlacement(
    online.map((a) => {
      const srv = run.servers.get(a.serverId);
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
    run.cfg.churn?.maxMovesPerRound ?? 1,
  );
  const changes: { peerId: string; span: BlockSpan | null }[] = [...decision.changes];
  // The spans in force lost every chain that holds a whole slot while the proposal has one: move towards it (as live).
  const restored =
    proposal === undefined
      ? []
      : wholeSlotMoves({
          model,
          spans: decision.spans,
          proposed,
          memoryOf: (id) => run.servers.get(id)?.spec.memoryBytes ?? 0,
          activeSessions: (id) => run.servers.get(id)?.holders.size ?? 0,
          maxMoves: (run.cfg.churn?.maxMovesPerRound ?? 1) - decision.moved.length,
          exclude: new Set(decision.changes.map((c) => c.peerId)),
        });
  changes.push(...restored);
  if (restored.length === 0 && run.cfg.rebalance === true && proposal !== undefined && run.cfg.churn !== undefined) {
    const snapshot = onlineSwarm(run);
    changes.push(
      ...rebalanceMoves({
        snapshot,
        spans: decision.spans,
        proposed,
        activeSessions: (id) => run.servers.get(id)?.holders.size ?? 0,
        horizonMs: run.cfg.churn.meanOnlineMs,
        maxMoves: (run.cfg.churn.maxMovesPerRound ?? 1) - decision.moved.length,
        exclude: new Set(decision.changes.map((c) => c.peerId)),
      }),
    );
  }
  if (changes.length === 0) return false;
  const next = new Map(run.placement.assignments.map((a) => [a.serverId, a]));
  for (const c of changes) {
    const srv = run.servers.get(c.peerId);
    if (srv === undefined) continue;
    victims.push(...interrupt(run, srv));
    const blocks = c.span === null ? 0 : hopSlots(c.span);
    const slots = cacheSlots(srv.spec.memoryBytes, blocks, model.blockBytes, model.cacheBytesPerBlock);
    run.changeSlots(srv, 0); // close the slot-time integral at the old size
    srv.slots = slots;
    srv.load.freeSlots = slots;
    next.set(c.peerId, { serverId: c.peerId, span: c.span, cacheSlots: slots });
  }
  // A new object: the routing policies' caches key on it.
  const placement: PlacementResult = { ...run.placement, assignments: [...next.values()] };
  delete placement.chains;
  run.placement = placement;
  return true;
}

/**
 * JFFC's chain list after churn, as the live coordinator builds it: over the online volunteers'
 * spans, the proposal's chains while every hop is in force, else GCA's; running sessions are
 * recounted on it.
 */
function rebuildChains(run: RunState, proposal: PlacementResult | undefined): void {
  const up = run.placement.assignments.filter((a) => run.servers.get(a.serverId)?.load.online === true);
  const upSpans = new Map(up.map((a) => [a.serverId, a.span]));
  const view: PlacementResult = { ...run.placement, assignments: up };
  delete view.chains;
  const chains = chainsInForce(proposal?.chains, (id) => upSpans.get(id));
  if (chains !== undefined) view.chains = chains;
  run.routingPlacement = view;
  recountChainSessions(run);
}

/** JFFC's per-chain session counts re-indexed on the new placement's chain list (sessions on a chain that no longer exists count on none). */
function recountChainSessions(run: RunState): void {
  let keys = new Map<string, number>();
  try {
    keys = new Map(dispatchChains(run.cfg.swarm, run.routingPlacement).map((c, i) => [chainKeyOf(c.chain.hops), i]));
  } catch {
    // No chain through every block: every running session counts on none until the swarm heals.
  }
  run.chainSessions.length = 0;
  for (const r of run.requests) {
    const s = r.session;
    if (s === null || s.chainIndex === undefined) continue;
    s.chainIndex = keys.get(chainKeyOf(s.chain.hops));
    if (s.chainIndex !== undefined) run.chainSessions[s.chainIndex] = (run.chainSessions[s.chainIndex] ?? 0) + 1;
  }
}
