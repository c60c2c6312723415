// Bouquet's routing (docs/bouquet.md): the fastest chain for this client's RTTs and this request's lengths that has the cache it declared, else the central queue.
import type { SwarmSnapshot } from '../swarm/index.ts';
import { requestTimeWithIndex, serverIndex, type ServerIndex } from '../perf/index.ts';
import type { ChainCapacity, PlacementResult, ServerAssignment } from '../placement/index.ts';
import { dispatchChains } from './jffc.ts';
import { isBanned, loadOf } from './live.ts';
import type { RoutingDecision, RoutingPolicy, RoutingRequest, RoutingSnapshot } from './types.ts';

/**
 * Bouquet's router, JFFC with three changes: chains are ordered for this request — its client's
 * RTTs (the snapshot's `clientServerRttMs`, which the coordinator fills from the `rttMs` a client
 * sends) and its own prompt and declared output length, not the workload's means; a chain is free
 * when every hop has the cache this session needs now (the state's free slots, which under
 * admission by declared length are counted in this session's reservation), not when fewer than
 * c_k sessions run on it, so short declarations pack more sessions onto the fast chains; and it
 * never looks at a request's actual output length (it has only the declaration). When no chain is
 * free the request waits in the central FIFO queue, as under JFFC.
 */
export function bouquetRouting(): RoutingPolicy {
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
      if (best !== undefined) {
        const c = entry.chains[best.i] as ChainCapacity;
        return { kind: 'route', chain: c.chain, expectedWaitMs: 0, predicted: best.predicted, chainIndex: best.i };
      }
      if (!anyOnline) return { kind: 'no-route', reason: 'every chain has a server that is offline' };
      return { kind: 'queue', reason: 'no chain has the cache this session declared' };
    },
  };
}
