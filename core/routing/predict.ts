// Fast request-time prediction on a chain with a prebuilt server index (same formula as core/perf's requestTime).
import type { Chain, ServerSpec, SwarmSnapshot, TimeBreakdown } from '../swarm/index.ts';
import { PerfModelError, perTokenRttMs, prefillMsPerBlock, prefillRttMs } from '../perf/index.ts';

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
  let computeMs = 0;
  let transferMs = 0;
  for (const hop of chain.hops) {
    const server = servers.get(hop.serverId);
    if (server === undefined) throw new PerfModelError(`chain visits unknown server '${hop.serverId}'`);
    const k = hop.span.end - hop.span.start;
    transferMs += prefillRttMs(swarm, clientId, hop.serverId, lIn) + (lOut - 1) * perTokenRttMs(swarm, clientId, hop.serverId);
    computeMs += k * (prefillMsPerBlock(server, lIn) + (lOut - 1) * server.decodeMsPerBlock);
  }
  return { computeMs, transferMs, waitingMs, totalMs: computeMs + transferMs + waitingMs };
}
