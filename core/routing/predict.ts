// Request-time prediction on a chain with a prebuilt server index: core/perf's formula, for routers that predict many chains.
import type { Chain, ServerSpec, SwarmSnapshot, TimeBreakdown } from '../swarm/index.ts';
import { requestTimeWithIndex } from '../perf/index.ts';

/** Servers by id, built once per snapshot by the caller. */
export type ServerIndex = ReadonlyMap<string, ServerSpec>;

/** Builds the server index of a snapshot. */
export function serverIndex(swarm: SwarmSnapshot): ServerIndex {
  return new Map(swarm.servers.map((s) => [s.id, s]));
}

/**
 * core/perf's requestTime without rebuilding a server map per call (O(hops) instead of O(servers)):
 * T = Σ_j (tᴵ_cj + k_j τᴵ_j(l_in)) + (l_out − 1) Σ_j (t_cj + k_j τ_j) + waiting, ms.
 */
export function chainTime(
  swarm: SwarmSnapshot,
  servers: ServerIndex,
  clientId: string,
  chain: Chain,
  lIn: number,
  lOut: number,
  waitingMs = 0,
): TimeBreakdown {
  return requestTimeWithIndex(swarm, servers, clientId, chain, lIn, lOut, waitingMs);
}
