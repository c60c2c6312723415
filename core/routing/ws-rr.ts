// BPRR's WS-RR (algorithms.md §3): waiting-penalized shortest path; the caller books slots until the expected completion.
import type { Chain, SwarmSnapshot } from '../swarm/index.ts';
import { perTokenRttMs, prefillMsPerBlock, prefillRttMs, requestTimeWithIndex, serverIndex, waitForSlotsMs, type ServerIndex } from '../perf/index.ts';
import type { PlacementResult } from '../placement/index.ts';
import { isBanned } from './live.ts';
import type { RouteRequest, RoutingDecision, RoutingPolicy, RoutingSnapshot, ServerLoad } from './types.ts';

/**
 * t^W_j(k): expected wait until `blocks` slots are free at a server, from its held slots and the
 * expected completion times of what holds them, ms (Infinity when the server can never fit them).
 */
export function expectedWaitMs(nowMs: number, load: ServerLoad, blocks: number): number {
  return waitForSlotsMs(nowMs, load.freeSlots, blocks, load.sessions);
}

/** log2 of the run of start positions the DP bounds at once. */
const CHUNK_BITS = 3;

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

/** Per-host link-cost terms for one client and (l_in, l_out), and the order the DP visits hosts in. */
interface HostCosts {
  /** tᴵ_cj + (l_out − 1) t_cj per host, ms. */
  transfer: Float64Array;
  /** τᴵ_j(l_in) + (l_out − 1) τ_j per host, ms per block. */
  perBlock: Float64Array;
  /** Host indices by span end, and within one end by a cheapness guess (so that later hosts prune well). */
  order: Int32Array;
}

/**
 * The DP's visiting order: by span end (the topological order the labels need), and within hosts
 * sharing an end, cheapest full-span hop first. Only speed depends on it: ties between hosts are
 * broken by host index whatever the order.
 */
function visitOrder(hosts: Hosts, transfer: Float64Array, perBlock: Float64Array): Int32Array {
  const order = Int32Array.from(hosts.ids, (_, i) => i);
  const key = (h: number) => (transfer[h] ?? 0) + (perBlock[h] ?? 0) * ((hosts.end[h] ?? 0) - (hosts.start[h] ?? 0));
  return order.sort((x, y) => (hosts.end[x] ?? 0) - (hosts.end[y] ?? 0) || key(x) - key(y) || x - y);
}

/**
 * WS-RR: each arrival takes the shortest chain on the feasible-link DAG under the link cost
 * t^W_j(k) + tᴵ_cj + (l_out − 1) t_cj + (τᴵ_j(l_in) + (l_out − 1) τ_j) · k, and waits
 * max over its hops of t^W before it starts (expectedWaitMs). Reads no options.
 *
 * The DP is core/chains' shortestChain specialised for speed (one label per block position; the
 * per-server terms are precomputed per client and lengths), so a 1000-server swarm routes in well
 * under a millisecond. Hosts and runs of start positions whose lower bound cannot beat the current
 * label are skipped; the labels, and so the routes, are exactly the plain scan's (same floating-point
 * sums, same tie-breaks).
 */
export function wsRrRouting(): RoutingPolicy {
  // Keyed by (placement, swarm snapshot): the per-client cost terms read the snapshot's RTTs, and a
  // caller that builds a new snapshot per request (the live coordinator) must get its new RTTs used.
  const hostCache = new WeakMap<PlacementResult, WeakMap<SwarmSnapshot, Hosts>>();
  const costCache = new WeakMap<Hosts, Map<string, HostCosts>>();
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
      c = { transfer, perBlock, order: visitOrder(hosts, transfer, perBlock) };
      byKey.set(key, c);
    }
    return c;
  };
  return {
    name: 'ws-rr',
    admission: { kind: 'wait-for-slots' },
    route({ swarm, placement, state }: RoutingSnapshot, request: RouteRequest): RoutingDecision {
      let bySwarm = hostCache.get(placement);
      if (bySwarm === undefined) {
        bySwarm = new WeakMap();
        hostCache.set(placement, bySwarm);
      }
      let hosts = bySwarm.get(swarm);
      if (hosts === undefined) {
        hosts = hostsOf(swarm, placement);
        bySwarm.set(swarm, hosts);
      }
      const { transfer, perBlock, order } = costsFor(swarm, hosts, request.clientId, request.inputTokens, request.outputTokens);
      const L = swarm.model.numBlocks;
      const dist = new Float64Array(L + 1).fill(Infinity);
      const viaHost = new Int32Array(L + 1).fill(-1);
      const viaFrom = new Int32Array(L + 1).fill(-1);
      const waitAt = new Float64Array(L + 1);
      // chunkMin[q] ≤ min of dist over positions [q·CHUNK, (q+1)·CHUNK): a lower bound that lets the
      // scan skip whole runs of start positions (and whole hosts) that cannot beat the best label.
      const chunkMin = new Float64Array((L >> CHUNK_BITS) + 1).fill(Infinity);
      dist[0] = 0;
      chunkMin[0] = 0;
      const n = hosts.ids.length;
      for (let i = 0; i < n; i++) {
        const h = order[i] ?? 0;
        const start = hosts.start[h] ?? 0;
        const end = hosts.end[h] ?? 0;
        const a = transfer[h] ?? Infinity;
        const b = perBlock[h] ?? Infinity;
        // Cheap exact pruning before the map lookups. A start e in chunk q costs at least
        // ((chunkMin[q] + 0) + a) + b·k_min(q), k_min(q) = end − (last start of q in the span):
        // floating-point rounding is monotone, w ≥ 0 and b ≥ 0. A host replaces the label at `end`
        // only when it is cheaper, or as cheap with a lower index (the plain scan in host-index order
        // keeps the first of equal labels), so a host whose bound cannot do that is skipped.
        const target = dist[end] ?? Infinity;
        const tieWins = h < (viaHost[end] ?? -1);
        const qLo = start >> CHUNK_BITS;
        const qHi = (end - 1) >> CHUNK_BITS;
        let hostBound = Infinity;
        for (let q = qLo; q <= qHi; q++) {
          const bound = (chunkMin[q] ?? Infinity) + 0 + a + b * (end - (Math.min(end, (q + 1) << CHUNK_BITS) - 1));
          if (bound < hostBound) hostBound = bound;
        }
        if (!(hostBound < target || (tieWins && hostBound <= target))) continue;
        const id = hosts.ids[h] ?? '';
        const load = state.servers.get(id);
        if (load !== undefined && !load.online) continue;
        if (isBanned(state, id)) continue;
        const free = load === undefined ? (hosts.slots[h] ?? 0) : load.freeSlots;
        let best = Infinity;
        let bestFrom = -1;
        let bestWait = 0;
        // Same candidates, in the same (increasing) order, as a scan of every reached position in
        // [start, end); unreached positions hold Infinity and never win. A chunk is skipped when its
        // bound cannot be strictly below both the host's best so far and the label at `end`, so the
        // chosen start (the first minimum) is the scan's.
        for (let q = qLo; q <= qHi; q++) {
          const eLo = Math.max(start, q << CHUNK_BITS);
          const eHi = Math.min(end, (q + 1) << CHUNK_BITS); // exclusive
          const bound = (chunkMin[q] ?? Infinity) + 0 + a + b * (end - (eHi - 1));
          if (!(bound < best && (bound < target || (tieWins && bound <= target)))) continue;
          for (let e = eLo; e < eHi; e++) {
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
        }
        if (bestFrom >= 0 && (best < target || (tieWins && best === target))) {
          dist[end] = best;
          viaHost[end] = h;
          viaFrom[end] = bestFrom;
          waitAt[end] = bestWait;
          const q = end >> CHUNK_BITS;
          if (best < (chunkMin[q] ?? Infinity)) chunkMin[q] = best;
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
      const predicted = requestTimeWithIndex(swarm, hosts.servers, request.clientId, chain, request.inputTokens, request.outputTokens, wait);
      return { kind: 'route', chain, expectedWaitMs: wait, predicted };
    },
  };
}
