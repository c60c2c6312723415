// Messages between a volunteer and the coordinator (one WebSocket per volunteer, at `apiPaths.volunteerSocket`).
// Times are milliseconds (durations end in `Ms`, instants in `AtMs` = Unix epoch ms), sizes bytes,
// blocks 0-based with exclusive end.
import type { BlockSpan, LinearMs } from '../swarm/index.ts';
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
