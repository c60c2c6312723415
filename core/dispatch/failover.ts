// Failover by sub-span: when one hop's server vanishes, only its blocks are routed again (WS-RR on the spans clipped to them).
import type { BlockSpan, Chain, SwarmSnapshot } from '../swarm/index.ts';
import type { PlacementResult, ServerAssignment } from '../placement/index.ts';
import type { RouteRequest, RoutingDecision, RoutingPolicy, RoutingState } from '../routing/index.ts';

/**
 * The placement clipped to blocks `span` and shifted to start at block 0, with a swarm of that many
 * blocks: a routing policy routes it like a whole model. Chains are dropped (JFFC's chains cover
 * [0, L) only).
 */
export function clipToSpan(swarm: SwarmSnapshot, placement: PlacementResult, span: BlockSpan): { swarm: SwarmSnapshot; placement: PlacementResult } {
  const clipped: ServerAssignment[] = [];
  for (const a of placement.assignments) {
    if (a.span === null) continue;
    const start = Math.max(a.span.start, span.start);
    const end = Math.min(a.span.end, span.end);
    if (end > start) clipped.push({ ...a, span: { start: start - span.start, end: end - span.start } });
  }
  return {
    swarm: { ...swarm, model: { ...swarm.model, numBlocks: span.end - span.start } },
    placement: { ...placement, assignments: clipped, chains: [] },
  };
}

/**
 * Routes blocks `span` only (a failover, or a client's request for part of the model) with
 * `policy` (the coordinator and the simulator use WS-RR: free-slot-aware shortest path) on the
 * placement clipped to the span; the decision's hops are in the model's block numbers again.
 */
export function routeSubSpan(
  policy: RoutingPolicy,
  swarm: SwarmSnapshot,
  placement: PlacementResult,
  state: RoutingState,
  request: RouteRequest,
  span: BlockSpan,
): RoutingDecision {
  const sub = clipToSpan(swarm, placement, span);
  // JFFC's per-chain counts index the whole model's chain list, not the clipped one's.
  const subState: RoutingState = { nowMs: state.nowMs, servers: state.servers };
  if (state.bannedUntilMs !== undefined) subState.bannedUntilMs = state.bannedUntilMs;
  const d = policy.route({ swarm: sub.swarm, placement: sub.placement, state: subState }, request);
  if (d.kind !== 'route') return d;
  const hops = d.chain.hops.map((h) => ({ serverId: h.serverId, span: { start: h.span.start + span.start, end: h.span.end + span.start } }));
  return { kind: 'route', chain: { hops }, expectedWaitMs: d.expectedWaitMs, predicted: d.predicted };
}

/** The hop of `chain` whose server is `serverId`, if any (a server holds at most one hop of a chain). */
export function hopOf(chain: Chain, serverId: string): Chain['hops'][number] | undefined {
  return chain.hops.find((h) => h.serverId === serverId);
}

/** `chain` with the hops inside `span` replaced by `replacement` (which covers exactly `span`). */
export function spliceChain(chain: Chain, span: BlockSpan, replacement: Chain): Chain {
  const before = chain.hops.filter((h) => h.span.end <= span.start);
  const after = chain.hops.filter((h) => h.span.start >= span.end);
  return { hops: [...before, ...replacement.hops, ...after] };
}

/** Stable identity of a chain (server and span of every hop), for per-chain session counts. */
export function chainKeyOf(hops: readonly { serverId: string; span: BlockSpan }[]): string {
  return hops.map((h) => `${h.serverId}:${h.span.start}-${h.span.end}`).join('|');
}

/**
 * The placement policy's own chains while every hop of every one is in force (its server is up
 * and its span in force holds the hop), else undefined: the caller falls back to GCA over the
 * spans in force. Keeps JFFC on the policy's chains (GBP-CR's) rather than a stand-in.
 */
export function chainsInForce(
  chains: PlacementResult['chains'],
  spanInForce: (serverId: string) => BlockSpan | null | undefined,
): PlacementResult['chains'] {
  if (chains === undefined || chains.length === 0) return undefined;
  const inForce = chains.every((c) =>
    c.chain.hops.every((h) => {
      const s = spanInForce(h.serverId);
      return s !== undefined && s !== null && s.start <= h.span.start && h.span.end <= s.end;
    }),
  );
  return inForce ? chains : undefined;
}
