// Bouquet's routing (docs/bouquet.md): the fastest chain for this client's RTTs and this request's lengths that has the cache it declared, else the central queue.
import type { ContentionSpec, SwarmSnapshot } from '../swarm/index.ts';
import { contentionFactor, perTokenRttMs, prefillMsPerBlock, prefillRttMs, requestLinkCostMs, requestTimeWithIndex, serverIndex, type ServerIndex } from '../perf/index.ts';
import { shortestChainWithCost } from '../chains/index.ts';
import type { ChainCapacity, PlacementResult, ServerAssignment } from '../placement/index.ts';
import { dispatchChains } from './jffc.ts';
import { isBanned, loadOf, usableAssignments } from './live.ts';
import type { RoutingDecision, RoutingOptions, RoutingPolicy, RoutingRequest, RoutingSnapshot, ServerLoad } from './types.ts';

/**
 * Bouquet's router, JFFC with three changes: chains are ordered for this request — its client's
 * RTTs (the snapshot's `clientServerRttMs`, which the coordinator fills from the `rttMs` a client
 * sends) and its own prompt and declared output length, not the workload's means; a chain is free
 * when every hop has the cache this session needs now (the state's free slots, which under
 * admission by declared length are counted in this session's reservation), not when fewer than
 * c_k sessions run on it, so short declarations pack more sessions onto the fast chains; and it
 * never looks at a request's actual output length (it has only the declaration). When no chain is
 * free the request waits in the central FIFO queue, as under JFFC. With `ownChains` it also weighs
 * the request's own chain over every usable span (`ownChain`) against the listed ones. When the snapshot carries the
 * runtime's contention, chains are scored with it (`routeUnderContention`).
 */
export function bouquetRouting(options: RoutingOptions = {}): RoutingPolicy {
  interface Prepared {
    chains: ChainCapacity[];
    byId: Map<string, ServerAssignment>;
    servers: ServerIndex;
  }
  const cache = new WeakMap<PlacementResult, WeakMap<SwarmSnapshot, Prepared>>();
  const prepared = (swarm: SwarmSnapshot, placement: PlacementResult): Prepared => {
    let bySwarm = cache.get(placement);
    if (bySwarm === undefined) {
      bySwarm = new WeakMap();
      cache.set(placement, bySwarm);
    }
    let entry = bySwarm.get(swarm);
    if (entry === undefined) {
      entry = { chains: dispatchChains(swarm, placement), byId: new Map(placement.assignments.map((a) => [a.serverId, a])), servers: serverIndex(swarm) };
      bySwarm.set(swarm, entry);
    }
    return entry;
  };
  return {
    name: 'bouquet',
    admission: { kind: 'central-queue' },
    route({ swarm, placement, state }: RoutingSnapshot, request: RoutingRequest): RoutingDecision {
      const entry = prepared(swarm, placement);
      if (entry.chains.length === 0) return { kind: 'no-route', reason: 'the placement has no chain through every block' };
      if (swarm.contention !== undefined) return routeUnderContention(swarm, swarm.contention, entry, { placement, state, request, options });
      let anyOnline = false;
      let best: { i: number; predicted: ReturnType<typeof requestTimeWithIndex> } | undefined;
      entry.chains.forEach((c, i) => {
        let up = true;
        let fits = true;
        for (const h of c.chain.hops) {
          const a = entry.byId.get(h.serverId);
          if (a === undefined) {
            up = false;
            break;
          }
          const load = loadOf(state, a);
          if (!load.online || isBanned(state, h.serverId)) {
            up = false;
            break;
          }
          if (load.freeSlots < h.span.end - h.span.start) fits = false;
        }
        if (!up) return;
        anyOnline = true;
        if (!fits) return;
        const predicted = requestTimeWithIndex(swarm, entry.servers, request.clientId, c.chain, request.inputTokens, request.outputTokens, 0);
        if (best === undefined || predicted.totalMs < best.predicted.totalMs) best = { i, predicted };
      });
      // A chain the plan does not list: the fastest for this request over every usable span with the cache it needs.
      // The plan's chains come from one typical client (the coordinator's median RTTs); this one is this client's.
      const own = options.ownChains === true ? ownChain(swarm, entry.servers, placement, state, request) : null;
      if (own !== null && (best === undefined || own.predicted.totalMs < best.predicted.totalMs * (1 - ownChainMargin))) {
        return { kind: 'route', chain: own.chain, expectedWaitMs: 0, predicted: own.predicted };
      }
      if (best !== undefined) {
        const c = entry.chains[best.i] as ChainCapacity;
        return { kind: 'route', chain: c.chain, expectedWaitMs: 0, predicted: best.predicted, chainIndex: best.i };
      }
      if (!anyOnline) return { kind: 'no-route', reason: 'every chain has a server that is offline' };
      return queueOrNever(swarm, entry.chains, placement, state, options);
    },
  };
}

/**
 * No chain has the cache this session declared now: the central queue, unless no chain would have
 * it even with every session gone (a volunteer planned for short declarations keeps less than this
 * one needs, c in declared-length sessions). Such a request would wait at the FIFO queue's head for
 * ever and hold everyone behind it, so it has no route now (live: a coded `no-route`; the simulator
 * retries it when the swarm changes).
 */
function queueOrNever(swarm: SwarmSnapshot, chains: readonly ChainCapacity[], placement: PlacementResult, state: RoutingSnapshot['state'], options: RoutingOptions): RoutingDecision {
  const usable = usableAssignments(state, placement.assignments);
  const idle = new Map(usable.map((a) => [a.serverId, idleSlotsOf(loadOf(state, a))]));
  const holds = (id: string, k: number): boolean => (idle.get(id) ?? -1) >= k;
  const wait: RoutingDecision = { kind: 'queue', reason: 'no chain has the cache this session declared' };
  if (chains.some((c) => c.chain.hops.every((h) => holds(h.serverId, h.span.end - h.span.start)))) return wait;
  if (options.ownChains === true && shortestChainWithCost(usable, swarm.model.numBlocks, () => 0, holds) !== null) return wait;
  return { kind: 'no-route', reason: 'no chain holds the cache this session declared even when idle: its declared length is too long for the volunteers serving now' };
}

/** The slots a server would have free with no session or booking held (free + held), in the load's units. */
function idleSlotsOf(load: ServerLoad): number {
  return load.freeSlots + load.sessions.reduce((a, x) => a + x.slots, 0);
}

/**
 * Bouquet's routing when the snapshot says how steps slow with concurrent sessions
 * (`swarm.contention`): a session that joins a volunteer serving n others steps at
 * factor(n + 1) · τ there. Among the online chains with the cache it declared it takes the one
 * predicted to finish it soonest with that slowdown on every hop (transfer + Σ_hops compute ·
 * factor(n_hop + 1)), so it packs onto a fast volunteer only while that still beats a less busy
 * one. It never holds a request back while a chain fits: waiting for a less contended chain (up
 * to the sessions' expected ends) blocked the FIFO queue behind it and was 1.7–4× worse on the
 * tuning seeds 1–3 of followup-llama2-7b-service. Nothing fits: the central queue.
 */
function routeUnderContention(
  swarm: SwarmSnapshot,
  contention: ContentionSpec,
  entry: { chains: ChainCapacity[]; byId: Map<string, ServerAssignment>; servers: ServerIndex },
  { placement, state, request, options }: { placement: PlacementResult; state: RoutingSnapshot['state']; request: RoutingRequest; options: RoutingOptions },
): RoutingDecision {
  const { inputTokens: lIn, outputTokens: lOut } = request;
  let anyOnline = false;
  let best: { i: number; totalMs: number } | undefined;
  entry.chains.forEach((c, i) => {
    let fits = true;
    let totalMs = 0;
    for (const h of c.chain.hops) {
      const a = entry.byId.get(h.serverId);
      const server = entry.servers.get(h.serverId);
      if (a === undefined || server === undefined) return;
      const load = loadOf(state, a);
      if (!load.online || isBanned(state, h.serverId)) return;
      const k = h.span.end - h.span.start;
      if (load.freeSlots < k) fits = false;
      const transferMs = prefillRttMs(swarm, request.clientId, h.serverId, lIn) + (lOut - 1) * perTokenRttMs(swarm, request.clientId, h.serverId);
      const computeMs = k * (prefillMsPerBlock(server, lIn) + (lOut - 1) * server.decodeMsPerBlock);
      totalMs += transferMs + computeMs * contentionFactor(contention, load.sessions.length + 1);
    }
    anyOnline = true;
    if (fits && (best === undefined || totalMs < best.totalMs)) best = { i, totalMs };
  });
  if (!anyOnline) return { kind: 'no-route', reason: 'every chain has a server that is offline' };
  if (best === undefined) return queueOrNever(swarm, entry.chains, placement, state, options);
  const c = entry.chains[best.i] as ChainCapacity;
  const predicted = requestTimeWithIndex(swarm, entry.servers, request.clientId, c.chain, lIn, lOut, 0);
  return { kind: 'route', chain: c.chain, expectedWaitMs: 0, predicted, chainIndex: best.i };
}

/** How much faster than the best listed chain a request's own chain must be to be taken (a share of its time). */
const ownChainMargin = 0.05;

/** The fastest chain for this request's RTTs and lengths over every online, unbanned span with the cache it needs now; null when none. */
function ownChain(swarm: SwarmSnapshot, servers: ServerIndex, placement: PlacementResult, state: RoutingSnapshot['state'], request: RoutingRequest): { chain: ChainCapacity['chain']; predicted: ReturnType<typeof requestTimeWithIndex> } | null {
  const usable = usableAssignments(state, placement.assignments);
  const free = new Map(usable.map((a) => [a.serverId, loadOf(state, a).freeSlots]));
  const found = shortestChainWithCost(usable, swarm.model.numBlocks, requestLinkCostMs(swarm, request.clientId, request.inputTokens, request.outputTokens), (id, k) => (free.get(id) ?? 0) >= k);
  if (found === null) return null;
  return { chain: found.chain, predicted: requestTimeWithIndex(swarm, servers, request.clientId, found.chain, request.inputTokens, request.outputTokens, 0) };
}
