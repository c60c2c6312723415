// Messages of the coordinator API (volunteers, clients, dashboards), transport-neutral: JSON over REST or WebSocket.
// Times are milliseconds (durations end in `Ms`, instants in `AtMs` = Unix epoch ms), sizes bytes,
// blocks 0-based with exclusive end.
import type { BlockSpan, LinearMs, TimeBreakdown } from '../swarm/index.ts';
import type { ApiErrorBody } from './errors.ts';

// ---------------------------------------------------------------------------------------------
// Volunteers (one WebSocket per volunteer tab, at `apiPaths.volunteerSocket`)
// ---------------------------------------------------------------------------------------------

/** Where a volunteer runs its blocks. */
export type Backend = 'webgpu' | 'wasm';

/** Life of a volunteer as it reports it: loading weights, serving sessions, or draining before a move or leave. */
export type VolunteerState = 'loading' | 'serving' | 'draining';

/** Load a volunteer reports with each heartbeat. */
export interface VolunteerLoad {
  /** Inference sessions open on this volunteer now. */
  activeSessions: number;
  /** Single-block session caches still free (a session over k blocks holds k). */
  freeCacheSlots: number;
  state: VolunteerState;
}

/** First message of a volunteer: who it is and what it measured. */
export interface RegisterMessage {
  type: 'register';
  /** Its PeerJS id: clients open data connections to it. Key-bound (`vk-` + SHA-256 of `publicKey`) unless the coordinator allows hand-picked ids (tests). */
  peerId: string;
  /** Its ECDSA P-256 public key, base64 SPKI. */
  publicKey: string;
  /**
   * ECDSA P-256 / SHA-256 signature (base64url, IEEE P1363 r‖s) by that key over
   * `registerChallengeText(nonce, peerId)` (core/api identity), for the `challenge` this socket got.
   * Without it the coordinator refuses the registration ('identity-refused').
   */
  signature?: string;
  /** Signed leases of the sessions it runs now (a restarted coordinator rebuilds its book from them). */
  sessions?: string[];
  /** M_j: bytes it gives to weights + attention cache. */
  memoryBytes: number;
  /** τ_j: measured decode time per block per token, ms. */
  decodeMsPerBlock: number;
  /** τᴵ_j(l) = perTokenMs · l + fixedMs: measured prefill time per block for l tokens, ms. */
  prefillMsPerBlock: LinearMs;
  backend: Backend;
  /** Model it benchmarked and will serve: picks that model's swarm; one the server does not serve is `model-mismatch`. */
  modelId: string;
  /**
   * The volunteer's `protocolVersion` (core/protocol); the coordinator answers another one with
   * `version-mismatch` and does not register it. Read as 0 when absent (a volunteer from before the field).
   */
  protocolVersion: number;
  /**
   * Blocks it already holds in memory and can serve at once (after a coordinator restart or a
   * reconnect); the coordinator keeps this span when it can, so no weights are reloaded.
   */
  loadedSpan?: BlockSpan;
}

/** Periodic liveness + load report; a volunteer silent for the heartbeat timeout is dropped. */
export interface HeartbeatMessage {
  type: 'heartbeat';
  load: VolunteerLoad;
  /** Signed leases of the sessions it runs now (see RegisterMessage.sessions). */
  sessions?: string[];
}

/** The volunteer has loaded the blocks of an assignment and serves them. */
export interface ReadyMessage {
  type: 'ready';
  /** The `assignmentId` it loaded (a stale one is ignored). */
  assignmentId: number;
  span: BlockSpan;
}

/** The volunteer leaves cleanly (tab closing). */
export interface LeaveMessage {
  type: 'leave';
}

/** Everything a volunteer sends. */
export type VolunteerMessage = RegisterMessage | HeartbeatMessage | ReadyMessage | LeaveMessage;

/** Facts about the served model a volunteer or client needs. */
export interface ModelInfo {
  /** Model id (folder name under `/models/`). */
  id: string;
  /** L: decoder blocks. */
  numBlocks: number;
  /** s_m: bytes of one block's weights at the served precision. */
  blockBytes: number;
  /** s_c: bytes of one session's cache for one block at `maxSessionTokens`. */
  cacheBytesPerBlock: number;
  /** Longest session (prompt + new tokens) the cache is sized for, tokens. */
  maxSessionTokens: number;
  /** URL path prefix of the model files (`/models/<id>/`), served with HTTP Range support. */
  filesPath: string;
  /** Files in that folder (names relative to `filesPath`). */
  files: string[];
}

/** First message of the coordinator on a volunteer socket: sign `nonce` in your `register` (proves the key). */
export interface ChallengeMessage {
  type: 'challenge';
  /** Fresh random nonce of this socket, base64url. */
  nonce: string;
}

/** Answer to `register`. */
export interface RegisteredMessage {
  type: 'registered';
  peerId: string;
  /** The coordinator's ECDSA P-256 public key, base64 SPKI: open sessions only for leases it signed. */
  coordinatorKey: string;
  model: ModelInfo;
  /** How often to send heartbeats, ms. */
  heartbeatIntervalMs: number;
  /** Silence after which the coordinator drops the volunteer, ms. */
  heartbeatTimeoutMs: number;
}

/** Why a volunteer got an assignment. */
export type AssignmentReason =
  /** It joined (or re-registered) and the policy placed it. */
  | 'join'
  /** It keeps the span it reported as loaded. */
  | 'keep'
  /** It moves to cover blocks a departed volunteer left uncovered. */
  | 'cover-gap'
  /** The placement policy was switched and every volunteer re-placed by it. */
  | 'rebalance'
  /** The policy leaves it idle (GBP-CR may), or it is not needed. */
  | 'idle';

/** Blocks the coordinator asks a volunteer to serve. */
export interface AssignmentMessage {
  type: 'assignment';
  /** Increases with every assignment to this volunteer; echo it in `ready`. */
  assignmentId: number;
  modelId: string;
  /** Blocks to load and serve, or null: serve nothing, stay registered. */
  span: BlockSpan | null;
  reason: AssignmentReason;
  /** n_j: single-block session caches the placement expects it to keep after the weights. */
  cacheSlots: number;
}

/** An error about the last message; the socket stays open unless the error is fatal. */
export interface ErrorMessage {
  type: 'error';
  error: ApiErrorBody;
}

/** Everything the coordinator sends a volunteer. */
export type CoordinatorToVolunteerMessage = ChallengeMessage | RegisteredMessage | AssignmentMessage | ErrorMessage;

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

// ---------------------------------------------------------------------------------------------
// Dashboards (GET `apiPaths.swarm`, or WebSocket `apiPaths.dashboardSocket`: a snapshot then events)
// ---------------------------------------------------------------------------------------------

/** A volunteer as the dashboard sees it. */
export interface VolunteerView {
  peerId: string;
  state: VolunteerState;
  /** Blocks it serves now (reported ready), or null. */
  span: BlockSpan | null;
  /** Blocks it was last asked to serve (differs from `span` while it loads). */
  assignedSpan: BlockSpan | null;
  load: VolunteerLoad;
  /** τ_j, ms. */
  decodeMsPerBlock: number;
  /** τᴵ_j, ms. */
  prefillMsPerBlock: LinearMs;
  /** M_j, bytes. */
  memoryBytes: number;
  backend: Backend;
  /** n_j the placement gave it. */
  cacheSlots: number;
  /** Slots booked by live leases (fractional when the coordinator books by declared length: k blocks × token blocks ÷ a slot's). */
  leasedSlots: number;
  joinedAtMs: number;
  lastHeartbeatAtMs: number;
  /**
   * Its key is new (no record yet: fewer than the probation count of leases released through it), so
   * placement and routing may trust it less (checks, capped share of routes).
   */
  probation: boolean;
}

/** How a route ended (or that it is still running). */
export type RouteOutcome = 'active' | 'released' | 'expired';

/** A route as the dashboard sees it: predicted vs measured. */
export interface RouteRecord {
  /** Short public hash of the lease id (the id itself is never published). */
  leaseTag: string;
  clientId: string;
  chain: RouteHop[];
  policy: string;
  promptTokens: number;
  maxNewTokens: number;
  predicted: TimeBreakdown;
  measured?: MeasuredTimes;
  /** Time the request spent in the central queue before this lease, ms. */
  queuedMs: number;
  grantedAtMs: number;
  endedAtMs?: number;
  outcome: RouteOutcome;
}

/** A placement policy's prediction for the current swarm (null when it cannot place it). */
export interface PolicyPrediction {
  policy: string;
  /** Average per-token time T / l_out with no waiting, ms. */
  perTokenMs: number | null;
  /** Why it has no prediction (e.g. the infeasibility reason). */
  error?: string;
  /** True while a slow policy (the exact MILP, in its own thread) is still computing for the current swarm. */
  pending?: boolean;
}

/** The placement in force. */
export interface PlacementView {
  policy: string;
  /** The performance model's prediction for the spans in force (after reconcile), ms per token; null before the first placement or while blocks are uncovered. */
  perTokenMs: number | null;
  computedAtMs: number;
  /** Blocks no serving or loading volunteer covers. */
  uncoveredBlocks: number[];
  /** Why the last placement failed, if it did. */
  error?: ApiErrorBody;
}

/** A dashboard asks to switch the placement policy (POST `apiPaths.placementPolicy`). */
export interface PlacementPolicyRequest {
  /** Registered placement policy name (`bprr`, `gbp-cr`, `petals`, …). */
  policy: string;
  /** Model whose swarm switches (default: the server's first model). */
  modelId?: string;
}

/** Answer to a policy switch: the placement now in force, and who had to move. */
export interface PlacementPolicyChanged {
  kind: 'placement-policy';
  placement: PlacementView;
  /** Volunteers whose span changed (they reload weights). */
  moved: string[];
}

/** Everything a dashboard shows. */
export interface SwarmState {
  atMs: number;
  model: ModelInfo;
  routingPolicy: string;
  placement: PlacementView;
  volunteers: VolunteerView[];
  /** Every configured placement policy's prediction on the current volunteers. */
  predictions: PolicyPrediction[];
  /** Most recent routes, newest last. */
  recentRoutes: RouteRecord[];
  queueLength: number;
  activeLeases: number;
  /** The coordinator's event-loop lag (absent from an older server). */
  loopLag?: LoopLag;
}

/** How late the coordinator's event loop runs: the largest stall in the last minute, and all time lost since start, ms. */
export interface LoopLag {
  recentMaxMs: number;
  lostMs: number;
}

/** Why a volunteer left the registry. */
export type LeaveReason = 'leave' | 'timeout' | 'disconnect' | 'replaced';

/** A change to the swarm state, pushed to dashboards after the snapshot. */
export type SwarmEvent =
  | { type: 'volunteer-joined'; volunteer: VolunteerView }
  | { type: 'volunteer-updated'; volunteer: VolunteerView }
  | { type: 'volunteer-left'; peerId: string; reason: LeaveReason }
  | { type: 'placement'; placement: PlacementView; moved: string[] }
  /** The coordinator's loop lag changed (a stall, or one aged out of the window). */
  | { type: 'loop-lag'; loopLag: LoopLag }
  | { type: 'predictions'; predictions: PolicyPrediction[] }
  | { type: 'route'; route: RouteRecord; queueLength: number; activeLeases: number }
  | { type: 'queue'; queueLength: number };

/** What a dashboard socket receives. */
export type DashboardMessage =
  | { type: 'snapshot'; state: SwarmState }
  | { type: 'event'; atMs: number; event: SwarmEvent };

// ---------------------------------------------------------------------------------------------
// Several models in one swarm (GET `apiPaths.servedModels`)
// ---------------------------------------------------------------------------------------------

/**
 * How well the swarm serves one model, from its coordinator's state. Messages name their model by
 * `modelId` (a register's, a route request's, a policy switch's, `?modelId=` on GET `apiPaths.swarm`
 * and the dashboard socket); without it they go to the server's first model.
 */
export interface ModelCoverage {
  model: ModelInfo;
  /** Volunteers registered for this model. */
  volunteers: number;
  /** Blocks some serving volunteer holds now (of `model.numBlocks`). */
  servedBlocks: number;
  /** Fewest volunteers assigned any one block (serving or still loading it); 0 while a block has none. */
  minReplicas: number;
  /** Volunteers assigned a block, on average over the blocks (serving or loading). */
  meanReplicas: number;
  /** Every block is held by a serving volunteer: a chat can be answered now. */
  fullyServed: boolean;
  /** Blocks no serving or loading volunteer covers. */
  uncoveredBlocks: number[];
}

/** The models one server serves (GET `apiPaths.servedModels`). */
export interface ModelsList {
  /** In the order `serve --model` named them. */
  models: ModelCoverage[];
  /** Where a message without `modelId` goes (the first model). */
  defaultModelId: string;
  /** The model a new volunteer should serve: where the swarm needs blocks most (core/policies `volunteerModelPick`). */
  suggestedModelId: string;
}
