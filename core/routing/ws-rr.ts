// BPRR's WS-RR (algorithms.md §3): waiting-penalized shortest path; the caller books slots until the expected completion.
import type { Chain, SwarmSnapshot } from '../swarm/index.ts';
import { perTokenRttMs, prefillMsPerBlock, prefillRttMs, waitForSlotsMs } from '../perf/index.ts';
import type { PlacementResult } from '../placement/index.ts';
import { isBanned } from './live.ts';
import { chainTime, serverIndex, type ServerIndex } from './predict.ts';
import type { RouteRequest, RoutingDecision, RoutingPolicy, RoutingSnapshot, ServerLoad } from './types.ts';

/**
 * t^W_j(k): expected wait until `blocks` slots are free at a server, from its held slots and the
 * expected completion times of what holds them, ms (Infinity when the server can never fit them).
 */
export function expectedWaitMs(nowMs: number, load: ServerLoad, blocks: number): number {
  return waitForSlotsMs(nowMs, load.freeSlots, blocks, load.sessions);
}

interface Hosts {
  ids: string[];
  start: Int32Array;
  end: Int32Array;
  slots: Float64Array;
  servers: ServerIndex;
}

/** Hosting servers sorted by span end (a topological order of the feasible-link DAG). */
function hostsOf(swarm: SwarmSnapshot, placement: PlacementResult): Hosts {
  const L = swarm.model.numBlocks;
  const list = placement.assignments
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => a.span !== null && Math.min(L, a.span.end) > Math.max(0, a.span.start))
    .sort((x, y) => (x.a.span?.end ?? 0) - (y.a.span?.end ?? 0) || x.i - y.i);
  return {
    ids: list.map(({ a }) => a.serverId),
    start: Int32Array.from(list, ({ a }) => Math.max(0, a.span?.start ?? 0)),
    end: Int32Array.from(list, ({ a }) => Math.min(L, a.span?.end ?? 0)),
    slots: Float64Array.from(list, ({ a }) => a.cacheSlots),
    servers: serverIndex(swarm),
  };
}

/**
 * WS-RR: each arrival takes the shortest chain on the feasible-link DAG under the link cost
 * t^W_j(k) + tᴵ_cj + (l_out − 1) t_cj + (τᴵ_j(l_in) + (l_out − 1) τ_j) · k, and waits
 * max over its hops of t^W before it starts (expectedWaitMs). Reads no options.
 *
 * The DP is core/chains' shortestChain specialised for speed (one label per block position; the
 * per-server terms are precomputed per client and lengths), so a 1000-server swarm routes in well
 * under a millisecond.
 */
export function wsRrRouting(): RoutingPolicy {
  const hostCache = new WeakMap<PlacementResult, Hosts>();
  const costCache = new WeakMap<Hosts, Map<string, { transfer: Float64Array; perBlock: Float64Array }>>();
  const costsFor = (swarm: SwarmSnapshot, hosts: Hosts, clientId: string, lIn: number, lOut: number) => {
    let byKey = costCache.get(hosts);
    if (byKey === undefined) {
      byKey = new Map();
      costCache.set(hosts, byKey);
    }
    const key = `${clientId}\u0000${lIn}\u0000${lOut}`;
    let c = byKey.get(key);
    if (c === undefined) {
      const n = hosts.ids.length;
      const transfer = new Float64Array(n);
      const perBlock = new Float64Array(n);
      hosts.ids.forEach((id, i) => {
        const s = hosts.servers.get(id);
        transfer[i] = prefillRttMs(swarm, clientId, id, lIn) + (lOut - 1) * perTokenRttMs(swarm, clientId, id);
        perBlock[i] = s === undefined ? Infinity : prefillMsPerBlock(s, lIn) + (lOut - 1) * s.decodeMsPerBlock;
      });
      if (byKey.size > 256) byKey.clear(); // bounded: traces with many distinct lengths
      c = { transfer, perBlock };
      byKey.set(key, c);
    }
    return c;
  };
  return {
    name: 'ws-rr',
    admission: { kind: 'wait-for-slots' },
    route({ swarm, placement, state }: RoutingSnapshot, request: RouteRequest): RoutingDecision {
      let hosts = hostCache.get(placement);
      if (hosts === undefined) {
        hosts = hostsOf(swarm, placement);
        hostCache.set(placement, hosts);
      }
      const { transfer, perBlock } = costsFor(swarm, hosts, request.clientId, request.inputTokens, request.outputTokens);
      const L = swarm.model.numBlocks;
      const dist = new Float64Array(L + 1).fill(Infinity);
      const viaHost = new Int32Array(L + 1).fill(-1);
      const viaFrom = new Int32Array(L + 1).fill(-1);
      const waitAt = new Float64Array(L + 1);
      dist[0] = 0;
      const reached: number[] = [0];
      const n = hosts.ids.length;
      for (let h = 0; h < n; h++) {
        const id = hosts.ids[h] ?? '';
        const load = state.servers.get(id);
        if (load !== undefined && !load.online) continue;
        if (isBanned(state, id)) continue;
        const start = hosts.start[h] ?? 0;
        const end = hosts.end[h] ?? 0;
        const free = load === undefined ? (hosts.slots[h] ?? 0) : load.freeSlots;
        let lo = 0;
        let hi = reached.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((reached[mid] ?? 0) < start) lo = mid + 1;
          else hi = mid;
        }
        let best = Infinity;
        let bestFrom = -1;
        let bestWait = 0;
        const a = transfer[h] ?? Infinity;
        const b = perBlock[h] ?? Infinity;
        for (let r = lo; r < reached.length; r++) {
          const e = reached[r] ?? 0;
          if (e >= end) break;
          const d = dist[e] ?? Infinity;
          if (d === Infinity) continue;
          const k = end - e;
          const w = k <= free ? 0 : load === undefined ? Infinity : expectedWaitMs(state.nowMs, load, k);
          const c = d + w + a + b * k;
          if (c < best) {
            best = c;
            bestFrom = e;
            bestWait = w;
          }
        }
        if (bestFrom >= 0 && best < (dist[end] ?? Infinity)) {
          if (dist[end] === Infinity) reached.push(end);
          dist[end] = best;
          viaHost[end] = h;
          viaFrom[end] = bestFrom;
          waitAt[end] = bestWait;
        }
      }
      if (!Number.isFinite(dist[L] ?? Infinity)) {
        return { kind: 'no-route', reason: 'no chain of online servers with enough cache covers every block' };
      }
      const hops: Chain['hops'] = [];
      let wait = 0;
      for (let e = L; e > 0; ) {
        const h = viaHost[e] ?? -1;
        const from = viaFrom[e] ?? -1;
        if (h < 0 || from < 0) return { kind: 'no-route', reason: 'internal: broken shortest-path labels' };
        hops.push({ serverId: hosts.ids[h] ?? '', span: { start: from, end: e } });
        wait = Math.max(wait, waitAt[e] ?? 0);
        e = from;
      }
      hops.reverse();
      const chain: Chain = { hops };
      const predicted = chainTime(swarm, hosts.servers, request.clientId, chain, request.inputTokens, request.outputTokens, wait);
      return { kind: 'route', chain, expectedWaitMs: wait, predicted };
    },
  };
}
