// PETALS' "min_latency" inference routing (algorithms.md §2): Dijkstra over (server, block) with PETALS' constants.
import type { Chain, SwarmSnapshot } from '../swarm/index.ts';
import { requestTime } from '../perf/index.ts';
import type { ServerAssignment } from '../placement/index.ts';
import { loadOf, usableAssignmentsKeepingLastResort } from './live.ts';
import type { AdmissionMechanism, RoutingRequest, RoutingDecision, RoutingOptions, RoutingPolicy, RoutingSnapshot } from './types.ts';

/** PETALS' delay for an unknown ping (`default_delay`), ms. */
export const petalsDefaultDelayMs = 150;
/** PETALS' cap on one ping-derived delay (`max_delay`), ms. */
export const petalsMaxDelayMs = 5000;
/** PETALS' fixed per-hop overhead (`overhead_delay`), ms. */
export const petalsOverheadMs = 18;
/** PETALS' penalty when a server's free cache looks too small (`alloc_delay`), ms. */
export const petalsAllocDelayMs = 10_000;
/** PETALS' block cost when a server's inference_rps is unknown, ms. */
export const petalsUnknownBlockMs = 300_000;

/** PETALS' client retry delay before attempt `attempt` (0-based): 0, 1, 2, 4, … s, capped at 60 s; ms. */
export function petalsRetryDelayMs(attempt: number): number {
  if (attempt <= 0) return 0;
  return Math.min(1000 * 2 ** (attempt - 1), 60_000);
}

/** How long PETALS' client bans a peer after its `failures`-th failure (1-based): 15 s · 2^(failures−1), ms. */
export function petalsBanMs(failures: number): number {
  return 15_000 * 2 ** Math.max(0, failures - 1);
}

function pingDelayMs(rttMs: number | undefined): number {
  if (rttMs === undefined || !Number.isFinite(rttMs) || rttMs < 0) return petalsDefaultDelayMs;
  return Math.min(rttMs / 2, petalsMaxDelayMs);
}

function blockMs(decodeMsPerBlock: number): number {
  // 1 / inference_rps in PETALS, where inference_rps is the measured decode speed of one block.
  return decodeMsPerBlock > 0 && Number.isFinite(decodeMsPerBlock) ? decodeMsPerBlock : petalsUnknownBlockMs;
}

/**
 * PETALS' shortest path, ms of PETALS' own cost (not a time prediction). Nodes are servers at the end
 * of their span: a server's cost depends on its predecessor (server-to-server ping), so one label
 * per server is needed, and servers sorted by span end are a topological order.
 */
export function petalsPath(
  swarm: SwarmSnapshot,
  assignments: readonly ServerAssignment[],
  clientId: string,
  freeSlotsOf: (serverId: string) => number,
  allocationPenalty: boolean,
): Chain | null {
  const L = swarm.model.numBlocks;
  const hosts = assignments
    .filter((a): a is ServerAssignment & { span: { start: number; end: number } } => a.span !== null && a.span.end > a.span.start)
    .map((a, i) => ({ id: a.serverId, start: Math.max(0, a.span.start), end: Math.min(L, a.span.end), i }))
    .filter((h) => h.end > h.start)
    .sort((x, y) => x.end - y.end || x.i - y.i);
  const decodeMs = new Map(swarm.servers.map((s) => [s.id, s.decodeMsPerBlock]));
  const clientRtt = swarm.network.clientServerRttMs[clientId] ?? {};
  const ss = swarm.network.serverServerRttMs;
  const alloc = (id: string, blocks: number): number => (allocationPenalty && freeSlotsOf(id) < blocks ? petalsAllocDelayMs : 0);
  const dist = new Float64Array(hosts.length).fill(Infinity);
  const prev = new Int32Array(hosts.length).fill(-1);
  const endsAt: number[][] = Array.from({ length: L + 1 }, () => []);
  hosts.forEach((q, qi) => {
    const perBlock = blockMs(decodeMs.get(q.id) ?? NaN);
    let best = Infinity;
    let bestPrev = -1;
    if (q.start === 0) {
      best = pingDelayMs(clientRtt[q.id]) + petalsOverheadMs + alloc(q.id, q.end) + perBlock * q.end;
    }
    // Enter q at block e, the end of some predecessor p's span (PETALS switches servers only there).
    for (let e = Math.max(1, q.start); e < q.end; e++) {
      for (const pi of endsAt[e] ?? []) {
        const d = dist[pi] ?? Infinity;
        if (d === Infinity) continue;
        const p = hosts[pi];
        if (p === undefined) continue;
        const c = d + pingDelayMs(ss?.[p.id]?.[q.id]) + petalsOverheadMs + alloc(q.id, q.end - e) + perBlock * (q.end - e);
        if (c < best) {
          best = c;
          bestPrev = pi;
        }
      }
    }
    dist[qi] = best;
    prev[qi] = bestPrev;
    endsAt[q.end]?.push(qi);
  });
  let bestLast = -1;
  let bestCost = Infinity;
  for (const qi of endsAt[L] ?? []) {
    const q = hosts[qi];
    if (q === undefined) continue;
    const c = (dist[qi] ?? Infinity) + pingDelayMs(clientRtt[q.id]);
    if (c < bestCost) {
      bestCost = c;
      bestLast = qi;
    }
  }
  if (bestLast < 0) return null;
  const hops: Chain['hops'] = [];
  let end = L;
  for (let qi = bestLast; qi >= 0; qi = prev[qi] ?? -1) {
    const q = hosts[qi];
    if (q === undefined) break;
    const pi = prev[qi] ?? -1;
    const start = pi >= 0 ? (hosts[pi]?.end ?? 0) : 0;
    hops.push({ serverId: q.id, span: { start, end } });
    end = start;
  }
  hops.reverse();
  return { hops };
}

/**
 * PETALS routing: the same path for every client with the same view, no load awareness beyond the
 * 10 s penalty for a server whose free cache looks too small (`allocationPenalty`, default true).
 * Admission: fail at once when a hop lacks slots, retry with backoff and ban the peer.
 */
export function petalsRouting(options: RoutingOptions = {}): RoutingPolicy {
  const allocationPenalty = options.allocationPenalty ?? true;
  const admission: AdmissionMechanism = { kind: 'fail-and-retry', retryDelayMs: petalsRetryDelayMs, banMs: petalsBanMs };
  return {
    name: 'petals',
    admission,
    route({ swarm, placement, state }: RoutingSnapshot, request: RoutingRequest): RoutingDecision {
      const usable = usableAssignmentsKeepingLastResort(state, placement.assignments, swarm.model.numBlocks);
      const byId = new Map(usable.map((a) => [a.serverId, a]));
      const freeSlotsOf = (id: string): number => {
        const a = byId.get(id);
        return a === undefined ? 0 : loadOf(state, a).freeSlots;
      };
      const chain = petalsPath(swarm, usable, request.clientId, freeSlotsOf, allocationPenalty);
      if (chain === null) return { kind: 'no-route', reason: 'no chain of online, unbanned servers covers every block' };
      const predicted = requestTime(swarm, request.clientId, chain, request.inputTokens, request.outputTokens, 0);
      return { kind: 'route', chain, expectedWaitMs: 0, predicted };
    },
  };
}
