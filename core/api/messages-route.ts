// Messages between a client and the coordinator: route requests, grants, queue tickets, release and renewal (REST).
// Times are milliseconds (durations end in `Ms`, instants in `AtMs` = Unix epoch ms), sizes bytes,
// blocks 0-based with exclusive end.
import type { BlockSpan, TimeBreakdown } from '../swarm/index.ts';
import type { ApiErrorBody } from './errors.ts';

// ---------------------------------------------------------------------------------------------
// Clients (REST, see `apiPaths`)
// ---------------------------------------------------------------------------------------------

/** A client asks for a chain of volunteers (POST `apiPaths.routes`). */
export interface RouteRequest {
  /** Stable id of the client tab (its PeerJS id is fine). */
  clientId: string;
  /** l_in: prompt length, tokens (≥ 1). */
  promptTokens: number;
  /** l_out: tokens it will generate at most (≥ 1). */
  maxNewTokens: number;
  /** Measured round trips client → peer, ms, by peer id; unknown peers get the coordinator's default. */
  rttMs?: Record<string, number>;
  /** Peers not to use (they failed this client). */
  excludePeers?: string[];
  /** Failover: route just these blocks (default: all, [0, L)). */
  span?: BlockSpan;
  /** Model the client loaded: picks that model's swarm (default: the server's first model); an unserved one is `model-mismatch`. */
  modelId?: string;
  /**
   * Granted now or refused (`queue-full`), never queued: for optional work such as a verified-results
   * check, which must not wait in the central queue ahead of real requests while its client holds a chain.
   */
  noQueue?: boolean;
}

/** One hop of a granted route: which peer runs which blocks for this request. */
export interface RouteHop {
  /**
   * The volunteer's PeerJS id. Naming rule: on the wire and in the pages a volunteer is a `peerId`;
   * `serverId` is the same string inside the placement/routing model (core/swarm, core/placement,
   * core/routing, sim), after the papers' "servers". The coordinator is where the two meet.
   */
  peerId: string;
  span: BlockSpan;
}

/** A granted route: the chain in block order covering the requested span, and its lease. */
export interface RouteGranted {
  kind: 'route';
  /** Release (or renew) with this id and `leaseSecret`; the volunteers' slots stay booked until then. Never published. */
  leaseId: string;
  /** Proves the lease is yours on release and renewal; only this answer carries it (the volunteers never see it). */
  leaseSecret: string;
  /** The lease as the coordinator signed it (core/api identity): send it in every `open-session` of this route. */
  leaseToken: string;
  /** The public short hash of the lease id (what dashboards show). */
  leaseTag: string;
  chain: RouteHop[];
  /** Unix epoch ms after which the lease lapses unless renewed. */
  expiresAtMs: number;
  /** Lease length a renewal extends by, ms. */
  leaseMs: number;
  /** What the performance model predicts for this request on this chain, ms. */
  predicted: TimeBreakdown;
  /** Routing policy that chose the chain. */
  policy: string;
  modelId: string;
  /**
   * Verified results: per hop of `chain`, the share of its decode steps the client re-runs on a second
   * volunteer (higher on probation; the client draws which steps) and its public key (base64 SPKI) to
   * check its signed answers.
   */
  verify?: RouteVerify;
}

/** Which hops of a granted chain the client checks, and with which keys (aligned with the chain). */
export interface RouteVerify {
  shares: number[];
  publicKeys: string[];
}

/** Every chain is full: the request waits in the central FIFO queue. Poll its ticket. */
export interface RouteQueued {
  kind: 'queued';
  ticketId: string;
  /** 1-based position in the queue (1 = next). */
  position: number;
  queueLength: number;
}

/** A request the coordinator refused. */
export interface RouteRefused {
  kind: 'error';
  error: ApiErrorBody;
}

/** Answer to a route request or a ticket poll. */
export type RouteResponse = RouteGranted | RouteQueued | RouteRefused;

/** Times a client measured for a finished request, reported on release (dashboard: predicted vs measured). */
export interface MeasuredTimes {
  /** Wall time from the first prefill message to the last token, ms. */
  totalMs: number;
  /** Tokens generated. */
  tokens: number;
  /** Time to the first generated token, ms. */
  firstTokenMs?: number;
  /**
   * The client's own work per decode token (embedding, LM head, sampling, its event loop: its decode
   * time less the time it waited on its hops), ms. About the client only: the coordinator uses it, bounded
   * by the measured decode time per token, for this client's own term (network.clientMsPerToken).
   */
  clientMsPerToken?: number;
}

/** Body of a release (POST `apiPaths.routeRelease(leaseId)`); may be empty. */
export interface RouteReleaseRequest {
  /** The granted `leaseSecret` (refused with 'lease-refused' without it). */
  leaseSecret: string;
  measured?: MeasuredTimes;
}

/** Body of a renewal (POST `apiPaths.routeRenew(leaseId)`). */
export interface RouteRenewRequest {
  /** The granted `leaseSecret`. */
  leaseSecret: string;
}

/** Answer to a release. */
export interface RouteReleased {
  kind: 'released';
  leaseId: string;
}

/** Answer to a renewal (POST `apiPaths.routeRenew(leaseId)`). */
export interface RouteRenewed {
  kind: 'renewed';
  leaseId: string;
  expiresAtMs: number;
}
