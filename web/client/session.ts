// ClientSession: one generation through a chain of volunteers — client-centric forwarding, chunked prefill, failover with replay.
import {
  FrameLink, PeerError, toPeerError,
  type HiddenStates, type RequestBody, type Transport, type WireDtype,
} from '../../core/protocol/index.ts';
import { backoffDelayMs, type AbortSignalLike, type BackoffPolicy } from '../../core/api/index.ts';
import { BouquetError, isBouquetError, type ErrorCode } from '../../core/errors/index.ts';
import { generateTokens, type GenerateOptions, type GenerationOutput } from '../../core/generation/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { RouteAsk, RouteHopSpec, RouteLease, RouteProvider } from './routes.ts';
import { LinkPool } from './link-pool.ts';

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

/** One input a hop has processed: what its replacement must replay. */
interface SentStep {
  hidden: HiddenStates;
  position: number;
}

interface ActiveHop {
  peerId: string;
  span: BlockSpan;
  /** '' and null for a hop that refused to open (about to be failed over). */
  sessionId: string;
  link: FrameLink | null;
  nextStepIndex: number;
  /** Inputs this hop processed, in order (the hidden states the client sent to this span). */
  history: SentStep[];
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
}

/** What a finished generation through the swarm reports: the loop's output, the chain and its failovers. */
export interface GenerationResult extends GenerationOutput {
  /** The chain at the end (after any failover). */
  route: RouteHopSpec[];
  failovers: FailoverRecord[];
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
}

function sleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(new BouquetError('aborted', 'generation aborted'));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new BouquetError('aborted', 'generation aborted'));
    }, { once: true });
  });
}

function lastRow(h: HiddenStates): HiddenStates {
  return { rows: 1, cols: h.cols, data: h.data.slice((h.rows - 1) * h.cols, h.rows * h.cols) };
}

function sliceRows(h: HiddenStates, from: number, to: number): HiddenStates {
  return { rows: to - from, cols: h.cols, data: h.data.slice(from * h.cols, to * h.cols) };
}

/**
 * Generates text through a chain of volunteers, client-centrically: the client sends the hidden
 * states to each hop in turn and gets them back. When a hop fails (leaves, times out, refuses,
 * answers garbage) it asks for a route for just that hop's blocks excluding the failed peer,
 * replays the hidden states that hop had processed (step by step, as sent, so the new caches are
 * bit-identical) and goes on: the text is the one an undisturbed run produces. Failovers are
 * bounded (`maxFailovers`, exponential backoff), then it throws a PeerError naming the cause.
 */
// The transport's tag of why ICE found no path (data.ice), kept when a failover wraps the error: the page and the failure report show it.
function iceProblemOf(e: { data?: Readonly<Record<string, unknown>> | undefined }): { ice: string } | undefined {
  const ice = e.data?.ice;
  return typeof ice === 'string' ? { ice } : undefined;
}

export class ClientSession {
  private readonly opts: Required<Omit<ClientSessionOptions, 'links' | 'onFailover' | 'random'>> & Pick<ClientSessionOptions, 'onFailover'>;
  private readonly backoff: BackoffPolicy;
  private readonly links: LinkPool;
  private readonly ownsLinks: boolean;
  private hops: ActiveHop[] = [];
  private leases: RouteLease[] = [];
  private excluded = new Set<string>();
  private failovers: FailoverRecord[] = [];
  private tokensSoFar = 0;
  private maxLength = 0;
  private promptTokens = 0;
  private maxNewTokens = 0;
  private signal: AbortSignalLike | undefined;

  constructor(options: ClientSessionOptions) {
    this.opts = {
      prefillChunkTokens: 256, dtype: 'fp32', stepTimeoutMs: 30_000, maxFailovers: 5, routeRetries: 8, backoffBaseMs: 100,
      backoffMaxMs: 5000, newSessionId: () => crypto.randomUUID(), ...options,
    };
    this.backoff = {
      firstMs: this.opts.backoffBaseMs, maxMs: this.opts.backoffMaxMs, maxAttempts: Infinity,
      ...(options.random !== undefined ? { random: options.random } : {}),
    };
    this.ownsLinks = options.links === undefined;
    this.links = options.links ?? new LinkPool(options.transport, 10_000, this.opts.stepTimeoutMs);
  }

  /** The chain in use now. */
  get route(): RouteHopSpec[] {
    return this.hops.map((h) => ({ peerId: h.peerId, span: h.span }));
  }

  /**
   * Generates up to `maxNewTokens` tokens after `promptIds` with the one generation loop, whose
   * step runs through the chain (prefill in chunks; failover and replay inside the step). Closes its
   * sessions and releases its routes at the end, also on failure or abort ('aborted').
   */
  async generate(promptIds: number[], options: GenerateOptions): Promise<GenerationResult> {
    const m = this.opts.model;
    if (promptIds.length === 0) throw new PeerError('bad-input', 'the prompt must hold at least one token');
    if (options.maxNewTokens < 1) throw new PeerError('bad-input', 'maxNewTokens must be at least 1');
    this.maxLength = promptIds.length + options.maxNewTokens;
    if (this.maxLength > m.maxSeqLen) {
      throw new PeerError('sequence-too-long', `prompt (${promptIds.length}) + new tokens (${options.maxNewTokens}) exceed the model's ${m.maxSeqLen} tokens`);
    }
    this.promptTokens = promptIds.length;
    this.maxNewTokens = options.maxNewTokens;
    this.signal = options.signal;
    this.failovers = [];
    this.excluded = new Set();
    this.tokensSoFar = 0;
    const started = performance.now();
    let out: GenerationOutput | undefined;
    // Time to first token counts from the request, route and session opening included (the loop starts after them).
    let ttftMs = 0;
    try {
      await this.openChain();
      out = await generateTokens((ids, position) => this.stepChain(ids, position), promptIds, {
        ...options,
        onToken: (t) => {
          this.tokensSoFar = t.index + 1;
          if (t.index === 0) ttftMs = performance.now() - started;
          options.onToken?.(t.index === 0 ? { ...t, latencyMs: ttftMs } : t);
        },
      });
    } finally {
      const totalMs = performance.now() - started;
      await this.finish(out === undefined ? undefined : { totalMs, tokens: out.ids.length, firstTokenMs: ttftMs });
    }
    return { ...out, ttftMs, route: this.route, failovers: this.failovers, totalMs: performance.now() - started };
  }

  /** The loop's step over the chain: embed, every span (the prompt in bounded chunks), LM head on the last row. */
  private async stepChain(ids: readonly number[], position: number): Promise<Float32Array> {
    const m = this.opts.model;
    const x = await m.embed([...ids]);
    let out: HiddenStates = x;
    for (let from = 0; from < x.rows; from += this.opts.prefillChunkTokens) {
      const to = Math.min(x.rows, from + this.opts.prefillChunkTokens);
      out = await this.runSpan(0, m.numBlocks, to - from === x.rows ? x : sliceRows(x, from, to), position + from);
    }
    return m.head(lastRow(out));
  }

  /** Gets the full route and opens a session on every hop (failing over hops that refuse). */
  private async openChain(): Promise<void> {
    const lease = await this.requestRouteWithRetry({ start: 0, end: this.opts.model.numBlocks }, 0);
    this.hops = [];
    await this.installHops(0, 0, lease.chain, lease.leaseToken);
  }

  /**
   * Opens sessions on `specs` and puts them in place of `deleteCount` hops at `index`. A hop that
   * refuses to open stays as a stand-in (no link) and is failed over at once, before any replay
   * reaches it.
   */
  private async installHops(index: number, deleteCount: number, specs: RouteHopSpec[], leaseToken: string | undefined): Promise<void> {
    const fresh: ActiveHop[] = [];
    const refusals = new Map<ActiveHop, PeerError>();
    for (const spec of specs) {
      try {
        fresh.push(await this.openHop(spec, leaseToken));
      } catch (err) {
        const e = toPeerError(err, 'peer-unavailable');
        if (e.code === 'sequence-too-long') throw e;
        const standIn: ActiveHop = { peerId: spec.peerId, span: spec.span, sessionId: '', link: null, nextStepIndex: 0, history: [] };
        refusals.set(standIn, e);
        fresh.push(standIn);
      }
    }
    this.hops.splice(index, deleteCount, ...fresh);
    for (const [standIn, e] of refusals) await this.failover(this.hops.indexOf(standIn), e);
  }

  private async openHop(spec: RouteHopSpec, leaseToken: string | undefined): Promise<ActiveHop> {
    const link = await this.links.get(spec.peerId).catch((err: unknown) => {
      throw toPeerError(err, 'peer-unavailable');
    });
    const sessionId = this.opts.newSessionId();
    const open: RequestBody<'open-session'> = { type: 'open-session', sessionId, span: spec.span, maxLength: this.maxLength, dtype: this.opts.dtype };
    if (leaseToken !== undefined) open.lease = leaseToken;
    await link.request<'open-session'>(open, this.opts.stepTimeoutMs);
    return { peerId: spec.peerId, span: spec.span, sessionId, link, nextStepIndex: 0, history: [] };
  }

  private async stepHop(hop: ActiveHop, hidden: HiddenStates, position: number): Promise<HiddenStates> {
    if (hop.link === null) throw new PeerError('peer-unavailable', `${hop.peerId} has no open session`, 0, hop.peerId);
    const res = await hop.link.request<'step'>(
      { type: 'step', sessionId: hop.sessionId, stepIndex: hop.nextStepIndex, position, dtype: this.opts.dtype, hidden },
      this.opts.stepTimeoutMs,
    );
    const out = res.hidden;
    if (res.sessionId !== hop.sessionId || res.stepIndex !== hop.nextStepIndex || out.rows !== hidden.rows || out.cols !== hidden.cols) {
      throw new PeerError('bad-frame', `${hop.peerId} answered step ${hop.nextStepIndex} with a ${out.rows}×${out.cols} result for step ${res.stepIndex}`, res.id, hop.peerId);
    }
    hop.nextStepIndex++;
    hop.history.push({ hidden, position });
    return out;
  }

  /**
   * Runs `x` (tokens at `position`) through the hops from index `from` up to block `spanEnd`,
   * client-centrically, failing over any hop that fails.
   */
  private async runSpan(from: number, spanEnd: number, x: HiddenStates, position: number): Promise<HiddenStates> {
    let i = from;
    let h = x;
    for (;;) {
      const hop = this.hops[i];
      if (hop === undefined || hop.span.start >= spanEnd) return h;
      try {
        h = await this.stepHop(hop, h, position);
        i++;
      } catch (err) {
        if (isBouquetError(err, 'aborted')) throw err;
        const e = toPeerError(err, 'peer-unavailable');
        if (e.code === 'sequence-too-long') throw e;
        await this.failover(i, e);
      }
    }
  }

  /** Replaces hop `index` by a new route for its span and replays its history there. */
  private async failover(index: number, cause: PeerError): Promise<void> {
    const failed = this.hops[index];
    if (failed === undefined) throw cause;
    const t0 = performance.now();
    if (this.failovers.length >= this.opts.maxFailovers) {
      throw new PeerError(cause.code, `gave up after ${this.failovers.length} failovers; last: ${failed.peerId} failed on blocks [${failed.span.start}, ${failed.span.end}): ${cause.message}`, 0, failed.peerId, iceProblemOf(cause));
    }
    this.excluded.add(failed.peerId);
    // Close what may still be open there; a peer that answered garbage loses its link too.
    if (failed.link !== null && failed.link.isOpen) {
      failed.link.request<'close'>({ type: 'close', sessionId: failed.sessionId }, 1000).catch(() => undefined);
    }
    if (cause.code === 'bad-frame' || cause.code === 'timeout') this.links.drop(failed.peerId);
    const record: FailoverRecord = {
      atToken: this.tokensSoFar, failedPeer: failed.peerId, span: failed.span, code: cause.code, message: cause.message,
      replacement: [], replayedSteps: failed.history.length, recoveryMs: 0,
    };
    this.failovers.push(record);
    await sleep(this.backoffMs(this.failovers.length - 1), this.signal);
    const lease = await this.requestRouteWithRetry(failed.span, this.failovers.length - 1).catch((e: unknown) => {
      if (isBouquetError(e, 'aborted')) throw e;
      const err = toPeerError(e, 'no-route');
      throw new PeerError(err.code, `${err.message} (while replacing ${failed.peerId} on blocks [${failed.span.start}, ${failed.span.end}) after ${cause.code}: ${cause.message})`, 0, failed.peerId, iceProblemOf(cause));
    });
    await this.installHops(index, 1, lease.chain, lease.leaseToken);
    for (const step of failed.history) {
      await this.runSpan(index, failed.span.end, step.hidden, step.position);
    }
    record.replacement = this.hops
      .filter((h) => h.span.start >= failed.span.start && h.span.end <= failed.span.end)
      .map((h) => ({ peerId: h.peerId, span: h.span }));
    record.recoveryMs = performance.now() - t0;
    this.opts.onFailover?.(record);
  }

  /** 0 before the first try, then the jittered backoff of retry `attempt − 1`. */
  private backoffMs(attempt: number): number {
    return attempt <= 0 ? 0 : backoffDelayMs(this.backoff, attempt - 1);
  }

  /** Asks for a route, retrying 'no-route' (volunteers may be re-registering), 'queue-full' and 'rate-limited' with backoff a few times. */
  private async requestRouteWithRetry(span: BlockSpan, attempt0: number): Promise<RouteLease> {
    let last: PeerError | undefined;
    for (let k = 0; k < this.opts.routeRetries; k++) {
      if (k > 0) await sleep(this.backoffMs(attempt0 + k), this.signal);
      try {
        // The round trips measured so far go with the request (the coordinator routes this client by them).
        const ask: RouteAsk = { span, promptTokens: this.promptTokens, maxNewTokens: this.maxNewTokens, excludePeers: [...this.excluded] };
        const rttMs = this.links.rtts.fresh();
        if (rttMs !== undefined) ask.rttMs = rttMs;
        this.links.refreshRtts();
        const lease = await this.opts.routes.requestRoute(ask, this.signal);
        this.checkChain(lease, span);
        this.leases.push(lease);
        return lease;
      } catch (err) {
        if (isBouquetError(err, 'aborted')) throw err;
        last = toPeerError(err, 'no-route');
        if (!['no-route', 'queue-full', 'rate-limited', 'infeasible', 'peer-unavailable', 'timeout'].includes(last.code)) throw last;
      }
    }
    throw new PeerError('no-route', `no route for blocks [${span.start}, ${span.end}) after ${this.opts.routeRetries} tries: ${last?.message ?? ''}`);
  }

  private checkChain(lease: RouteLease, span: BlockSpan): void {
    let at = span.start;
    for (const hop of lease.chain) {
      if (hop.span.start !== at || hop.span.end <= hop.span.start) break;
      at = hop.span.end;
    }
    if (at !== span.end || lease.chain.length === 0) {
      void this.opts.routes.releaseRoute(lease.leaseId).catch(() => undefined);
      throw new PeerError('no-route', `route ${JSON.stringify(lease.chain)} does not cover blocks [${span.start}, ${span.end}) in order`);
    }
  }

  private async finish(measured: { totalMs: number; tokens: number; firstTokenMs: number } | undefined): Promise<void> {
    const closes = this.hops.map((h) =>
      h.link !== null && h.link.isOpen
        ? h.link.request<'close'>({ type: 'close', sessionId: h.sessionId }, 2000).catch(() => undefined)
        : Promise.resolve(undefined),
    );
    await Promise.all(closes);
    const leases = this.leases;
    this.leases = [];
    await Promise.all(leases.map((l, i) => this.opts.routes.releaseRoute(l.leaseId, i === 0 ? measured : undefined).catch(() => undefined)));
    if (this.ownsLinks) this.links.closeAll();
  }
}
