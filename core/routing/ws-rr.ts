// BPRR's WS-RR (algorithms.md §3): waiting-penalized shortest path; the caller books slots until the expected completion.
import { requestLinkCostMs, requestTime, waitForSlotsMs } from '../perf/index.ts';
import { shortestChainWithCost } from '../chains/index.ts';
import { loadOf, usableAssignments } from './live.ts';
import type { RouteRequest, RoutingDecision, RoutingPolicy, RoutingSnapshot, ServerLoad } from './types.ts';

/**
 * t^W_j(k): expected wait until `blocks` slots are free at a server, from its held slots and the
 * expected completion times of what holds them, ms (Infinity when the server can never fit them).
 */
export function expectedWaitMs(nowMs: number, load: ServerLoad, blocks: number): number {
  return waitForSlotsMs(nowMs, load.freeSlots, blocks, load.sessions);
}

/**
 * WS-RR: each arrival takes the shortest chain under the link cost
 * t^W_j(k) + tᴵ_cj + (l_out − 1) t_cj + (τᴵ_j(l_in) + (l_out − 1) τ_j) · k, and waits
 * max over its hops of t^W before it starts (expectedWaitMs). Reads no options.
 */
export function wsRrRouting(): RoutingPolicy {
  return {
    name: 'ws-rr',
    admission: { kind: 'wait-for-slots' },
    route({ swarm, placement, state }: RoutingSnapshot, request: RouteRequest): RoutingDecision {
      const usable = usableAssignments(state, placement.assignments);
      const loads = new Map(usable.map((a) => [a.serverId, loadOf(state, a)]));
      const base = requestLinkCostMs(swarm, request.clientId, request.inputTokens, request.outputTokens);
      // Waits are memoized per (server, k) within this call: the DAG asks for the same pair often.
      const waits = new Map<string, number>();
      const waitOf = (serverId: string, blocks: number): number => {
        const key = `${serverId}\u0000${blocks}`;
        let w = waits.get(key);
        if (w === undefined) {
          const load = loads.get(serverId);
          w = load === undefined ? Infinity : expectedWaitMs(state.nowMs, load, blocks);
          waits.set(key, w);
        }
        return w;
      };
      const found = shortestChainWithCost(usable, swarm.model.numBlocks, (serverId, blocks, isFirst) => {
        const w = waitOf(serverId, blocks);
        return w === Infinity ? Infinity : w + base(serverId, blocks, isFirst);
      });
      if (found === null) return { kind: 'no-route', reason: 'no chain of online servers with enough cache covers every block' };
      let wait = 0;
      for (const h of found.chain.hops) wait = Math.max(wait, waitOf(h.serverId, h.span.end - h.span.start));
      const predicted = requestTime(swarm, request.clientId, found.chain, request.inputTokens, request.outputTokens, wait);
      return { kind: 'route', chain: found.chain, expectedWaitMs: wait, predicted };
    },
  };
}
