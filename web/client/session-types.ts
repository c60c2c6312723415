// The client session's contract: the model parts the client computes, its options, what a generation returns and records.
import type { HiddenStates, Transport, WireDtype } from '../../core/protocol/index.ts';
import type { ErrorCode } from '../../core/errors/index.ts';
import type { GenerationOutput } from '../../core/generation/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { RouteHopSpec, RouteProvider } from './routes.ts';
import type { LinkPool } from './link-pool.ts';
import type { StepVerifierOptions, VerifyReport } from './verify.ts';

/** What the client tab computes itself: embeddings in, logits out. */
export interface ClientModel {
  /** L: decoder blocks the chain must cover. */
  readonly numBlocks: number;
  /** d: width of the hidden states. */
  readonly hiddenSize: number;
  /** Longest sequence the model supports, tokens. */
  readonly maxSeqLen: number;
  /** Hidden states [ids.length, d] of the token ids. */
  embed(ids: number[]): Promise<HiddenStates>;
  /** Logits [vocab] for the last row of `hidden` (final norm + LM head). */
  head(hidden: HiddenStates): Promise<Float32Array>;
}

/** One failover, as reported. */
export interface FailoverRecord {
  /** Tokens generated when it happened. */
  atToken: number;
  failedPeer: string;
  span: BlockSpan;
  code: ErrorCode;
  message: string;
  /** Hops that took over the span. */
  replacement: RouteHopSpec[];
  /** Steps replayed into the replacement. */
  replayedSteps: number;
  /** Time from the failure to being back in business, ms. */
  recoveryMs: number;
  /** For 'wrong-result': the coordinator confirmed it and banned the volunteer's key. */
  banned?: boolean;
}

/** What a finished generation through the swarm reports: the loop's output, the chain and its failovers. */
export interface GenerationResult extends GenerationOutput {
  /** The chain at the end (after any failover). */
  route: RouteHopSpec[];
  failovers: FailoverRecord[];
  /**
   * Prompt tokens the volunteers' sessions already held from the previous generation (`keepSessions`):
   * only the rest of the prompt was sent. 0 for a fresh chain (the whole prompt prefilled).
   */
  reusedTokens: number;
  /** Steps compared on a second volunteer, mismatches, keys banned (verified results). */
  verification?: VerifyReport;
  /** The client's own work per decode token (decode time less hop waits), ms; reported on release. Absent after a failover. */
  clientMsPerToken?: number;
}

/** Knobs of a ClientSession. */
export interface ClientSessionOptions {
  transport: Transport;
  routes: RouteProvider;
  model: ClientModel;
  /** Share links with other sessions of the tab; default: a pool of this session's own, closed at the end. */
  links?: LinkPool;
  /** Largest prefill step, tokens; longer prompts go in several steps. Default 256. */
  prefillChunkTokens?: number;
  /** Precision of hidden states on the wire. Default fp32 (fp16 halves traffic but changes the numbers). */
  dtype?: WireDtype;
  /** Time a step waits for its answer, ms (default 30000). */
  stepTimeoutMs?: number;
  /** Failovers allowed per generation before giving up (default 5). */
  maxFailovers?: number;
  /**
   * Route requests tried per failover while the coordinator finds nothing ('no-route', e.g. while it
   * moves a volunteer to cover a gap), with the same backoff (default 8: about 16 s in all).
   */
  routeRetries?: number;
  /**
   * How long a failover keeps asking for a replacement route, ms, when its `routeRetries` tries are
   * spent (default 60000). An answer already under way waits out a network change: the volunteers
   * re-register one by one, seconds apart, and the answer is lost if the chat gives up first. The
   * first route of a generation does not wait: nobody serving the model is said at once.
   */
  failoverWaitMs?: number;
  /** Backoff before the k-th retry of a failover: base · 2^(k−1) less up to half at random, 0 for the first, ms (default 100). */
  backoffBaseMs?: number;
  /** Cap on that backoff, ms (default 5000). */
  backoffMaxMs?: number;
  /** Uniform generator in [0, 1) for the backoff's jitter (default Math.random). */
  random?: () => number;
  /** Called on every failover (for status lines). */
  onFailover?: (f: FailoverRecord) => void;
  /** Random session ids (default crypto.randomUUID). */
  newSessionId?: () => string;
  /**
   * Keep the chain's sessions (and their KV caches on the volunteers) and its route leases after a
   * generation, for a conversation: the next `generate` whose prompt extends every token they hold
   * (a chat's next turn: the history, the answer, the new message) sends only the new tokens. Any
   * other prompt, or a failed or stopped generation, ends them and starts a fresh chain; a hop whose
   * session is gone (expired, volunteer left) fails over and its history is replayed. Sessions are
   * opened for the model's whole length (`maxSeqLen`), and `close()` ends them. Default false.
   */
  keepSessions?: boolean;
  /**
   * Verified results: where mismatch evidence goes (default: `routes` when it takes evidence, as
   * CoordinatorRoutes does), the tolerance, the draw of checked steps, events for status lines.
   * Which hops are checked, and how often, the route answer says.
   */
  verify?: Partial<Pick<StepVerifierOptions, 'evidence' | 'tolerance' | 'random' | 'onEvent'>>;
}
