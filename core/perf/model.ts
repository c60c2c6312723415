// The performance model of BPRR (algorithms.md §1): per-token and prefill round trips, request time
import { BouquetError, registerErrorKind } from '../errors/index.ts';
// split into compute / transfer / waiting, cache slots and the wait for slots at one server. All ms.
import type { Chain, ContentionSpec, LinearMs, ServerSpec, SwarmSnapshot, TimeBreakdown } from '../swarm/index.ts';

/** A snapshot lacks a number the model needs (an RTT, a server); `code` is machine-readable. */
export class PerfModelError extends BouquetError<'bad-snapshot'> {
  constructor(message: string) {
    super('bad-snapshot', message);
  }
}
registerErrorKind('PerfModelError', PerfModelError);

function linear(c: LinearMs, tokens: number): number {
  return c.perTokenMs * tokens + c.fixedMs;
}

/** Client → server round trip without overheads, ms; throws PerfModelError naming the pair when unknown. */
export function clientServerRttMs(snapshot: SwarmSnapshot, clientId: string, serverId: string): number {
  const rtt = snapshot.network.clientServerRttMs[clientId]?.[serverId];
  if (rtt === undefined || !Number.isFinite(rtt) || rtt < 0) {
    throw new PerfModelError(
      `network.clientServerRttMs has no usable RTT from client '${clientId}' to server '${serverId}' (got ${String(rtt)}); add it to the scenario`,
    );
  }
  return rtt;
}

/** t_cj = RTT + per-message overhead: one decode round trip between client c and server j, ms. */
export function perTokenRttMs(snapshot: SwarmSnapshot, clientId: string, serverId: string): number {
  return clientServerRttMs(snapshot, clientId, serverId) + snapshot.network.messageOverheadMs;
}

/** tᴵ_cj(l) = RTT + prefillOverhead.perTokenMs · l + prefillOverhead.fixedMs: the prefill round trip for l input tokens, ms. */
export function prefillRttMs(snapshot: SwarmSnapshot, clientId: string, serverId: string, lIn: number): number {
  return clientServerRttMs(snapshot, clientId, serverId) + linear(snapshot.network.prefillOverheadMs, lIn);
}

/**
 * c_c · tokens: client c's own work for `tokens` generated tokens (embedding, LM head, sampling; the
 * snapshot's network.clientMsPerToken, 0 when it has none for c), ms. The same on every chain.
 */
export function clientWorkMs(snapshot: SwarmSnapshot, clientId: string, tokens: number): number {
  const perToken = snapshot.network.clientMsPerToken?.[clientId];
  return perToken === undefined || !Number.isFinite(perToken) || perToken <= 0 ? 0 : perToken * tokens;
}

/** τᴵ_j(l): prefill time of one block on this server for l input tokens, ms. */
export function prefillMsPerBlock(server: ServerSpec, lIn: number): number {
  return linear(server.prefillMsPerBlock, lIn);
}

/** Looks a server up by id; throws PerfModelError when the snapshot has none. */
export function serverById(snapshot: SwarmSnapshot, serverId: string): ServerSpec {
  const s = snapshot.servers.find((x) => x.id === serverId);
  if (s === undefined) throw new PerfModelError(`snapshot has no server '${serverId}'`);
  return s;
}

/**
 * Time of one request from client c on a chain (algorithms.md §1):
 * T = Σ_j (tᴵ_cj + k_j τᴵ_j(l_in)) + (l_out − 1) Σ_j (t_cj + k_j τ_j) + l_out c_c + waiting, in ms.
 * computeMs holds the τ terms, transferMs the t terms (overheadMs: their per-message overheads),
 * clientMs the client's own work c_c per token; k_j is the length of hop j's span.
 */
export function requestTime(
  snapshot: SwarmSnapshot,
  clientId: string,
  chain: Chain,
  lIn: number,
  lOut: number,
  waitingMs = 0,
): TimeBreakdown {
  return requestTimeWithIndex(snapshot, serverIndex(snapshot), clientId, chain, lIn, lOut, waitingMs);
}

/** A snapshot's servers by id, built once by callers that predict many chains on it. */
export type ServerIndex = ReadonlyMap<string, ServerSpec>;

/** Builds the server index of a snapshot. */
export function serverIndex(snapshot: SwarmSnapshot): ServerIndex {
  return new Map(snapshot.servers.map((s) => [s.id, s]));
}

/**
 * requestTime with the snapshot's servers already indexed by id (O(hops) per call instead of
 * O(servers)): for callers that predict many chains on one snapshot, such as the routers. ms.
 */
export function requestTimeWithIndex(
  snapshot: SwarmSnapshot,
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
    transferMs += prefillRttMs(snapshot, clientId, hop.serverId, lIn) + (lOut - 1) * perTokenRttMs(snapshot, clientId, hop.serverId);
    computeMs += k * (prefillMsPerBlock(server, lIn) + (lOut - 1) * server.decodeMsPerBlock);
  }
  const { network } = snapshot;
  const overheadMs = chain.hops.length * (linear(network.prefillOverheadMs, lIn) + (lOut - 1) * network.messageOverheadMs);
  const clientMs = clientWorkMs(snapshot, clientId, lOut);
  return { computeMs, transferMs, waitingMs, overheadMs, clientMs, totalMs: computeMs + transferMs + clientMs + waitingMs };
}

/** The paper's headline metric: average time per output token, T / l_out, ms. */
export function perTokenMs(breakdown: TimeBreakdown, lOut: number): number {
  return breakdown.totalMs / lOut;
}

/**
 * n_j = ⌊(M_j − s_m m_j) / s_c⌋: how many single-block session caches fit next to the weights of
 * `blockCount` blocks (bytes in, count out). Never negative; with 0 blocks all memory is cache.
 *
 * The same count as core/cache's token-block accounting (`KvCacheBudget.ofBytes(...).usage().totalSlots`,
 * the inverse of `cacheBudgetBytes`) when s_c is core/cache's `cacheBytesPerSlot`, as the coordinator's
 * served model gives it: ⌊⌊free / token block⌋ / token blocks per slot⌋ = ⌊free / s_c⌋. It stays in
 * bytes because the simulator and placement take s_c as a number from the scenario (the papers'
 * s_c, e.g. BLOOM's 148-token cache), with no token count to round to 16-token blocks; rounding
 * there would change the simulated numbers.
 */
export function cacheSlots(memoryBytes: number, blockCount: number, blockBytes: number, cacheBytesPerBlock: number): number {
  if (cacheBytesPerBlock <= 0) throw new PerfModelError(`cacheBytesPerBlock must be positive (got ${cacheBytesPerBlock})`);
  const free = memoryBytes - blockBytes * blockCount;
  if (free <= 0) return 0;
  return Math.floor(free / cacheBytesPerBlock);
}

/** A session holding cache slots at a server until its expected completion. */
export interface ActiveSession {
  /** Slots it holds (the number of blocks it runs there). */
  slots: number;
  /** When it is expected to finish, ms on the caller's clock. */
  expectedEndMs: number;
}

/**
 * Wait at one server until `neededSlots` slots are free (algorithms.md §1 "Waiting"): with the
 * active sessions sorted by expected completion, the time until enough of them have finished,
 * ms from `nowMs` (0 when they fit now, never negative). Infinity when even an empty server
 * (free + all held slots) cannot fit the request.
 */
export function waitForSlotsMs(nowMs: number, freeSlots: number, neededSlots: number, activeSessions: readonly ActiveSession[]): number {
  if (neededSlots <= freeSlots) return 0;
  const byEnd = [...activeSessions].sort((a, b) => a.expectedEndMs - b.expectedEndMs);
  let free = freeSlots;
  for (const s of byEnd) {
    free += s.slots;
    if (free >= neededSlots) return Math.max(0, s.expectedEndMs - nowMs);
  }
  return Infinity;
}

/**
 * The contention multiplier of a step on a server serving `sessions` sessions at once:
 * baseTaus + perSessionTaus · max(1, sessions); 1 without contention (concurrency costs memory, not time).
 */
export function contentionFactor(spec: ContentionSpec | undefined, sessions: number): number {
  if (spec === undefined) return 1;
  return spec.baseTaus + spec.perSessionTaus * Math.max(1, sessions);
}
