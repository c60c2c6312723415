// The follow-up's JFFC (algorithms.md §4): join the fastest free chain, else wait in the central FIFO queue.
import type { SwarmSnapshot } from '../swarm/index.ts';
import { requestLinkCostMs, requestTimeWithIndex, serverIndex, serverJobCosts, jobLinkCostMs, type ServerIndex } from '../perf/index.ts';
import { allocateCache, chainCostMs } from '../chains/index.ts';
import type { ChainCapacity, PlacementResult, ServerAssignment } from '../placement/index.ts';
import { isBanned, loadOf } from './live.ts';
import type { RoutingOptions, RoutingRequest, RoutingDecision, RoutingPolicy, RoutingSnapshot } from './types.ts';

/**
 * The chains JFFC dispatches on: the placement's own (GBP-CR computes them with GCA), or GCA over
 * the placement's slots with the planned workload's job costs when the placement has none (slots
 * counted in the placement's `sessionsPerSlot`, so capacities are in the sessions it planned).
 */
export function dispatchChains(swarm: SwarmSnapshot, placement: PlacementResult): ChainCapacity[] {
  if (placement.chains !== undefined && placement.chains.length > 0) return placement.chains;
  const costs = serverJobCosts(swarm, swarm.workload.meanInputTokens, Math.max(1, swarm.workload.meanOutputTokens));
  const perSlot = placement.sessionsPerSlot ?? 1;
  const assignments = perSlot === 1 ? placement.assignments : placement.assignments.map((a) => ({ ...a, cacheSlots: a.cacheSlots * perSlot }));
  return allocateCache(assignments, swarm.model.numBlocks, jobLinkCostMs(costs));
}

/**
 * JFFC: the request goes to the fastest chain (for its client, at the planned lengths) that has
 * fewer running sessions than its capacity c_k and only online servers; if none, 'queue'. The
 * queue itself lives with the caller; when a session ends the caller routes the queue head again,
 * which hands it the freed chain. Chain lists and per-client orders are cached per (placement,
 * swarm snapshot) pair: a caller that builds a new snapshot for a request (the live coordinator does,
 * with that request's RTTs) gets an order for those RTTs, while the simulator, whose snapshot is
 * fixed, keeps hitting the cache. Snapshots are never mutated in place. Option `jffcFreeBy: 'cache'`
 * (the ablation `followup-declared`): a chain is free when every hop has the cache the session
 * needs, not when fewer than c_k sessions run on it.
 */
export function jffcRouting(options: RoutingOptions = {}): RoutingPolicy {
  const byCache = options.jffcFreeBy === 'cache';
  interface Prepared {
    chains: ChainCapacity[];
    order: Map<string, number[]>;
    byId: Map<string, ServerAssignment>;
    servers: ServerIndex;
  }
  const chainCache = new WeakMap<PlacementResult, WeakMap<SwarmSnapshot, Prepared>>();
  const prepared = (swarm: SwarmSnapshot, placement: PlacementResult): Prepared => {
    let bySwarm = chainCache.get(placement);
    if (bySwarm === undefined) {
      bySwarm = new WeakMap();
      chainCache.set(placement, bySwarm);
    }
    let entry = bySwarm.get(swarm);
    if (entry === undefined) {
      entry = {
        chains: dispatchChains(swarm, placement),
        order: new Map(),
        byId: new Map(placement.assignments.map((a) => [a.serverId, a])),
        servers: serverIndex(swarm),
      };
      bySwarm.set(swarm, entry);
    }
    return entry;
  };
  const orderFor = (swarm: SwarmSnapshot, entry: Prepared, clientId: string): number[] => {
    let order = entry.order.get(clientId);
    if (order === undefined) {
      const cost = requestLinkCostMs(swarm, clientId, swarm.workload.meanInputTokens, Math.max(1, swarm.workload.meanOutputTokens));
      const t = entry.chains.map((c) => chainCostMs(c.chain, cost));
      order = entry.chains.map((_, i) => i).sort((a, b) => (t[a] ?? 0) - (t[b] ?? 0) || a - b);
      entry.order.set(clientId, order);
    }
    return order;
  };
  return {
    name: 'jffc',
    admission: { kind: 'central-queue' },
    route({ swarm, placement, state }: RoutingSnapshot, request: RoutingRequest): RoutingDecision {
      const entry = prepared(swarm, placement);
      if (entry.chains.length === 0) return { kind: 'no-route', reason: 'the placement has no chain through every block' };
      const byId = entry.byId;
      let anyOnline = false;
      for (const i of orderFor(swarm, entry, request.clientId)) {
        const c = entry.chains[i];
        if (c === undefined) continue;
        let up = true;
        let fits = true;
        for (const h of c.chain.hops) {
          const a = byId.get(h.serverId);
          const load = a === undefined ? undefined : loadOf(state, a);
          if (load === undefined || !load.online || isBanned(state, h.serverId)) {
            up = false;
            break;
          }
          if (load.freeSlots < h.span.end - h.span.start) fits = false;
        }
        if (!up) continue;
        anyOnline = true;
        if (byCache ? !fits : (state.chainSessions?.[i] ?? 0) >= c.capacity) continue;
        const predicted = requestTimeWithIndex(swarm, entry.servers, request.clientId, c.chain, request.inputTokens, request.outputTokens, 0);
        return { kind: 'route', chain: c.chain, expectedWaitMs: 0, predicted, chainIndex: i };
      }
      if (!anyOnline) return { kind: 'no-route', reason: 'every chain has a server that is offline' };
      return { kind: 'queue', reason: 'every chain is at capacity' };
    },
  };
}
