// SessionHost's contract types: limits per remote peer, the step signer, what is hosted, per-session state, counters.
import { PeerError, toPeerError, type FrameLink, type WireDtype } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { Sha256 } from '../../core/verify/index.ts';

/** Bounds on what one remote peer may hold here (a stranger must not take every slot or socket); durations in ms. */
export interface HostLimits {
  /** Connections from one remote peer at once (default 8); more are closed at once. */
  maxConnectionsPerPeer?: number;
  /** Connections in all (default 256). */
  maxConnections?: number;
  /** Sessions one remote peer holds at once (default 16); more are refused 'peer-limit'. */
  maxSessionsPerPeer?: number;
  /** A session with no request for this long is closed and its cache freed (default 120000, the default lease). */
  idleTimeoutMs?: number;
}

/** How a host signs its step answers (verified results): the volunteer's identity key, and SHA-256. */
export interface StepSigner {
  /** ECDSA P-256 / SHA-256 signature of `text`, base64url (VolunteerIdentity.sign). */
  sign(text: string): Promise<string>;
  sha256: Sha256;
}

/** A runtime's error as the peer protocol's, its code kept as is (cache-full, bad-input…), answering request `re`. */
export function asPeerError(err: unknown, re: number): PeerError {
  const e = toPeerError(err);
  return e.re === re ? e : new PeerError(e.code, e.message, re, e.peerId, e.data);
}

/** What the host serves right now. */
export interface HostedBlocks {
  /** Blocks loaded, 0-based, end exclusive. */
  span: BlockSpan;
  /**
   * n_j: single-block session caches; a session over k blocks holds k. The host counts them in token
   * blocks of 16 tokens (core/cache): n_j · ⌈maxSessionTokens / 16⌉ in all.
   */
  cacheSlots: number;
  /** Longest session the cache is sized for, tokens. */
  maxSessionTokens: number;
  /** d: width of the hidden states. */
  hiddenSize: number;
}

/** One session the host serves (trusted, host-internal state). */
export interface HostedSession {
  key: string;
  link: FrameLink;
  sessionId: string;
  span: BlockSpan;
  maxLength: number;
  dtype: WireDtype;
  slots: number;
  /** Step index and position the next step must carry. */
  nextStepIndex: number;
  nextPosition: number;
  /** Serializes the session's steps. */
  tail: Promise<unknown>;
  broken: boolean;
  /** The signed lease it was opened with (reported in heartbeats), when leases are checked. */
  leaseToken?: string;
  /** That lease's id ('' without one): part of every signed step answer. */
  leaseId: string;
  /** Running digest of the inputs of the steps run so far (core/verify nextInputsDigest). */
  inputsDigest: Uint8Array;
  /** Closes it when idle for `idleTimeoutMs`. */
  idleTimer?: ReturnType<typeof setTimeout>;
}

/** Counters a status line shows. */
export interface HostStats {
  activeSessions: number;
  sessionsServed: number;
  slotsUsed: number;
  slotsTotal: number;
  /** KV-cache token blocks (16 tokens of one block) reserved by sessions, and in all. */
  cacheTokenBlocksUsed: number;
  cacheTokenBlocksTotal: number;
  /** Tokens processed (prefill and decode rows) since start. */
  tokensProcessed: number;
  /** Steps served since start, and their time: the runtime's own compute (onnxruntime runs) and the host's wall time from the step's turn to its answer (compute + the worker hop), ms. */
  steps: number;
  stepComputeMs: number;
  stepServeMs: number;
  /** Tokens processed per second over the last `rateWindowMs`. */
  tokensPerS: number;
}
