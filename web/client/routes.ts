// RouteProvider: how a client session gets (and gives back) chains of volunteers; the coordinator's REST API implements it.
import type { AbortSignalLike } from '../../core/api/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';

/** One hop: which peer runs which blocks for this request. */
export interface RouteHopSpec {
  peerId: string;
  span: BlockSpan;
  /** Share of this hop's decode steps the client checks on a second volunteer (the coordinator's choice; absent: none). */
  verifyShare?: number;
  /** The volunteer's public key, base64 SPKI (checks its signed answers). */
  publicKey?: string;
}

/** A granted chain and the lease that books its cache slots. */
export interface RouteLease {
  leaseId: string;
  chain: RouteHopSpec[];
  /**
   * The coordinator's signed lease (core/api identity), sent in each hop's open-session; volunteers
   * refuse sessions without it. Absent only from route sources of tests that serve no volunteer checking it.
   */
  leaseToken?: string;
}

/** What a session asks for. */
export interface RouteAsk {
  /** Blocks to cover: [0, L) for a new request, the failed hop's span for a failover. */
  span: BlockSpan;
  /** l_in, tokens. */
  promptTokens: number;
  /** l_out, tokens. */
  maxNewTokens: number;
  /** Peers not to use (they failed this session). */
  excludePeers: string[];
  /** Measured round trips to peers, ms. */
  rttMs?: Record<string, number>;
  /** Granted now or refused, never queued (optional work: a verified-results check). */
  noQueue?: boolean;
}

/** Times measured for a finished request (sent with the release). */
export interface MeasuredRequest {
  totalMs: number;
  tokens: number;
  firstTokenMs?: number;
  /** The client's own work per decode token: its decode time less the time it waited on its hops, ms. */
  clientMsPerToken?: number;
}

/** Source of routes. Rejects with an error carrying code 'no-route' when nothing covers the span. */
export interface RouteProvider {
  requestRoute(ask: RouteAsk, signal?: AbortSignalLike): Promise<RouteLease>;
  releaseRoute(leaseId: string, measured?: MeasuredRequest): Promise<void>;
}
