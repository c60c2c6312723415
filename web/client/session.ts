// ClientSession: one generation through a chain of volunteers — client-centric forwarding, chunked prefill, failover with replay.
import {
  FrameLink, PeerError, toPeerError,
  type HiddenStates, type RequestBody,
} from '../../core/protocol/index.ts';
import type { AbortSignalLike, BackoffPolicy } from '../../core/api/index.ts';
import { isBouquetError } from '../../core/errors/index.ts';
import { generateTokens, type GenerateOptions, type GenerationOutput } from '../../core/generation/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { MeasuredRequest, RouteHopSpec, RouteLease } from './routes.ts';
import { askRouteWithRetry, retryBackoffMs, sleep } from './route-ask.ts';
import { LinkPool } from './link-pool.ts';
import { sessionVerifier, type StepVerifier } from './verify.ts';
import type { FailoverRecord, GenerationResult, ClientSessionOptions } from './session-types.ts';

export type { ClientModel, FailoverRecord, GenerationResult, ClientSessionOptions } from './session-types.ts';

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
  /** The lease it was opened under (volunteers sign it into every answer). */
  leaseId: string;
  /** Share of its decode steps to check on a second volunteer (from the route answer; 0: none). */
  verifyShare: number;
  /** Its public key, base64 SPKI (from the route answer): checks its signatures. */
  publicKey?: string;
  /** Signature of its last answer. */
  lastSignature?: string;
}

/** The lease id a volunteer signs into its answers: it learns it from the signed lease only ('' without one). */
function signedLeaseId(lease: RouteLease): string {
  return lease.leaseToken === undefined ? '' : lease.leaseId;
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
  private readonly opts: Required<Omit<ClientSessionOptions, 'links' | 'onFailover' | 'random' | 'keepSessions' | 'verify'>> & Pick<ClientSessionOptions, 'onFailover' | 'verify'>;
  private readonly keepSessions: boolean;
  /** Token ids the chain's sessions hold, in position order (what a kept chain lets the next prompt skip). */
  private processed: number[] = [];
  /** The sessions of the last generation are still open (keepSessions). */
  private kept = false;
  private readonly backoff: BackoffPolicy;
  private readonly links: LinkPool;
  private readonly ownsLinks: boolean;
  private hops: ActiveHop[] = [];
  private leases: RouteLease[] = [];
  private excluded = new Set<string>();
  private replacingHop: { failedPeer: string; span: BlockSpan } | null = null;
  private failovers: FailoverRecord[] = [];
  private tokensSoFar = 0;
  /** Time this generation's decode steps waited on their hops' answers, ms (the rest of a decode token is the client's own work). */
  private decodeHopWaitMs = 0;
  private maxLength = 0;
  private promptTokens = 0;
  private maxNewTokens = 0;
  private signal: AbortSignalLike | undefined;
  private verifier: StepVerifier<ActiveHop>;
  /** > 0 while a failover replays history (replayed steps are not checked again). */
  private replaying = 0;

  constructor(options: ClientSessionOptions) {
    this.opts = {
      prefillChunkTokens: 256, dtype: 'fp32', stepTimeoutMs: 30_000, maxFailovers: 5, routeRetries: 8, failoverWaitMs: 60_000, backoffBaseMs: 100,
      backoffMaxMs: 5000, newSessionId: () => crypto.randomUUID(), ...options,
    };
    this.backoff = {
      firstMs: this.opts.backoffBaseMs, maxMs: this.opts.backoffMaxMs, maxAttempts: Infinity,
      ...(options.random !== undefined ? { random: options.random } : {}),
    };
    this.keepSessions = options.keepSessions ?? false;
    this.ownsLinks = options.links === undefined;
    this.links = options.links ?? new LinkPool(options.transport, 10_000, this.opts.stepTimeoutMs);
    this.verifier = this.newVerifier();
  }

  private newVerifier(): StepVerifier<ActiveHop> {
    // The checker's shadow session opens and steps with the same code as a failover's replacement.
    return sessionVerifier<ActiveHop>({
      open: (spec, lease) => this.openHop(spec, lease.leaseToken, signedLeaseId(lease)),
      step: (hop, hidden, position) => this.stepHop(hop, hidden, position, false),
      close: (hop) => {
        if (hop.link?.isOpen === true) hop.link.request<'close'>({ type: 'close', sessionId: hop.sessionId }, 1000).catch(() => undefined);
      },
    }, this.opts.routes, this.opts.prefillChunkTokens, () => ({ promptTokens: this.promptTokens, maxNewTokens: this.maxNewTokens }), this.opts.verify);
  }

  /** The chain in use now. */
  get route(): RouteHopSpec[] {
    return this.hops.map((h) => ({ peerId: h.peerId, span: h.span }));
  }

  /** The hop being replaced while a failover waits for a new route (null otherwise): what a status line says. */
  get replacing(): { failedPeer: string; span: BlockSpan } | null {
    return this.replacingHop;
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
    if (promptIds.length + options.maxNewTokens > m.maxSeqLen) {
      throw new PeerError('sequence-too-long', `prompt (${promptIds.length}) + new tokens (${options.maxNewTokens}) exceed the model's ${m.maxSeqLen} tokens`);
    }
    // A kept chain serves this prompt when it extends every token its sessions hold; else it ends here.
    const reusedTokens = this.kept && this.extendsProcessed(promptIds) ? this.processed.length : 0;
    if (this.kept && reusedTokens === 0) await this.endChain(undefined);
    this.kept = false;
    // Kept sessions are opened (and booked) for the model's whole length: later turns grow them.
    this.maxLength = this.keepSessions ? m.maxSeqLen : promptIds.length + options.maxNewTokens;
    this.promptTokens = promptIds.length;
    this.maxNewTokens = this.maxLength - promptIds.length;
    this.signal = options.signal;
    this.failovers = [];
    this.excluded = new Set();
    this.tokensSoFar = 0;
    this.decodeHopWaitMs = 0;
    this.verifier = this.newVerifier();
    const started = performance.now();
    let out: GenerationOutput | undefined;
    let measured: MeasuredRequest | undefined;
    // Time to first token counts from the request, route and session opening included (the loop starts after them).
    let ttftMs = 0;
    try {
      if (reusedTokens === 0) {
        this.processed = [];
        await this.openChain();
      }
      // The prompt step sends only what the kept sessions do not hold; positions stay those of the whole sequence.
      const step = (ids: readonly number[], position: number): Promise<Float32Array> =>
        position === 0 && reusedTokens > 0 ? this.stepChain(ids.slice(reusedTokens), reusedTokens) : this.stepChain(ids, position);
      out = await generateTokens(step, promptIds, {
        ...options,
        onToken: (t) => {
          this.tokensSoFar = t.index + 1;
          if (t.index === 0) ttftMs = performance.now() - started;
          options.onToken?.(t.index === 0 ? { ...t, latencyMs: ttftMs } : t);
        },
      });
    } finally {
      const totalMs = performance.now() - started;
      this.verifier.finish();
      measured = out === undefined ? undefined : this.measuredTimes(totalMs, out.ids.length, ttftMs);
      // Kept only after a generation that finished: a failed or stopped one may leave a hop mid-step.
      if (this.keepSessions && out !== undefined) this.kept = true;
      else await this.endChain(measured);
    }
    const clientMsPerToken = measured?.clientMsPerToken;
    return {
      ...out, ttftMs, route: this.route, failovers: this.failovers, verification: this.verifier.report, totalMs: performance.now() - started, reusedTokens,
      ...(clientMsPerToken !== undefined ? { clientMsPerToken } : {}),
    };
  }

  /**
   * What the release reports: the request's times and, when it ran without failover, the client's own
   * work per decode token (embedding, LM head, sampling, its event loop): decode time less hop waits, ms.
   */
  private measuredTimes(totalMs: number, tokens: number, firstTokenMs: number): MeasuredRequest {
    const measured: MeasuredRequest = { totalMs, tokens, firstTokenMs };
    if (tokens >= 2 && this.failovers.length === 0 && totalMs >= firstTokenMs) {
      measured.clientMsPerToken = Math.max(0, (totalMs - firstTokenMs - this.decodeHopWaitMs) / (tokens - 1));
    }
    return measured;
  }

  /** Ends kept sessions and releases their routes (and the session's own links); a later generate starts afresh. */
  async close(): Promise<void> {
    this.kept = false;
    await this.endChain(undefined);
  }

  /** True when `promptIds` is longer than, and starts with, every token the chain's sessions hold. */
  private extendsProcessed(promptIds: readonly number[]): boolean {
    const held = this.processed;
    return held.length > 0 && promptIds.length > held.length && held.every((id, i) => promptIds[i] === id);
  }

  /** The loop's step over the chain: embed, every span (the prompt in bounded chunks), LM head on the last row. */
  private async stepChain(ids: readonly number[], position: number): Promise<Float32Array> {
    const m = this.opts.model;
    if (position !== this.processed.length) throw new PeerError('internal', `step at position ${position}, the sessions hold ${this.processed.length} tokens`);
    const x = await m.embed([...ids]);
    let out: HiddenStates = x;
    for (let from = 0; from < x.rows; from += this.opts.prefillChunkTokens) {
      const to = Math.min(x.rows, from + this.opts.prefillChunkTokens);
      out = await this.runSpan(0, m.numBlocks, to - from === x.rows ? x : sliceRows(x, from, to), position + from);
      this.processed.push(...ids.slice(from, to));
    }
    return m.head(lastRow(out));
  }

  /** Gets the full route and opens a session on every hop (failing over hops that refuse). */
  private async openChain(): Promise<void> {
    const lease = await this.requestRouteWithRetry({ start: 0, end: this.opts.model.numBlocks }, 0, 0);
    this.hops = [];
    await this.installHops(0, 0, lease.chain, lease.leaseToken, signedLeaseId(lease));
  }

  /**
   * Opens sessions on `specs` and puts them in place of `deleteCount` hops at `index`. A hop that
   * refuses to open stays as a stand-in (no link) and is failed over at once, before any replay
   * reaches it.
   */
  private async installHops(index: number, deleteCount: number, specs: RouteHopSpec[], leaseToken: string | undefined, leaseId: string): Promise<void> {
    const fresh: ActiveHop[] = [];
    const refusals = new Map<ActiveHop, PeerError>();
    for (const spec of specs) {
      try {
        fresh.push(await this.openHop(spec, leaseToken, leaseId));
      } catch (err) {
        const e = toPeerError(err, 'peer-unavailable');
        if (e.code === 'sequence-too-long') throw e;
        const standIn: ActiveHop = { peerId: spec.peerId, span: spec.span, sessionId: '', link: null, nextStepIndex: 0, history: [], leaseId, verifyShare: 0 };
        refusals.set(standIn, e);
        fresh.push(standIn);
      }
    }
    this.hops.splice(index, deleteCount, ...fresh);
    for (const [standIn, e] of refusals) await this.failover(this.hops.indexOf(standIn), e);
  }

  private async openHop(spec: RouteHopSpec, leaseToken: string | undefined, leaseId: string): Promise<ActiveHop> {
    const link = await this.links.get(spec.peerId).catch((err: unknown) => {
      throw toPeerError(err, 'peer-unavailable');
    });
    const sessionId = this.opts.newSessionId();
    const open: RequestBody<'open-session'> = { type: 'open-session', sessionId, span: spec.span, maxLength: this.maxLength, dtype: this.opts.dtype };
    if (leaseToken !== undefined) open.lease = leaseToken;
    await link.request<'open-session'>(open, this.opts.stepTimeoutMs);
    const hop: ActiveHop = { peerId: spec.peerId, span: spec.span, sessionId, link, nextStepIndex: 0, history: [], leaseId, verifyShare: spec.verifyShare ?? 0 };
    if (spec.publicKey !== undefined) hop.publicKey = spec.publicKey;
    return hop;
  }

  /** One step on one hop; a decode step (not a replay) is compared on a second volunteer with the hop's share (`check`). */
  private async stepHop(hop: ActiveHop, hidden: HiddenStates, position: number, check = true): Promise<HiddenStates> {
    if (hop.link === null) throw new PeerError('peer-unavailable', `${hop.peerId} has no open session`, 0, hop.peerId);
    const sentAt = performance.now();
    const res = await hop.link.request<'step'>(
      { type: 'step', sessionId: hop.sessionId, stepIndex: hop.nextStepIndex, position, dtype: this.opts.dtype, hidden },
      this.opts.stepTimeoutMs,
    );
    if (check && hidden.rows === 1 && position >= this.promptTokens) this.decodeHopWaitMs += performance.now() - sentAt;
    const out = res.hidden;
    if (res.sessionId !== hop.sessionId || res.stepIndex !== hop.nextStepIndex || out.rows !== hidden.rows || out.cols !== hidden.cols) {
      throw new PeerError('bad-frame', `${hop.peerId} answered step ${hop.nextStepIndex} with a ${out.rows}×${out.cols} result for step ${res.stepIndex}`, res.id, hop.peerId);
    }
    hop.lastSignature = res.signature;
    if (check && this.replaying === 0 && hidden.rows === 1 && position >= this.promptTokens && this.verifier.wants(hop)) {
      // Throws 'wrong-result' when this hop must be failed over (its step is then recomputed on the replacement).
      await this.verifier.check(hop, hidden, position, out, res.signature, this.opts.dtype);
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
    // A peer that lost only the session ('unknown-session': it closed it as idle between a conversation's turns, or
    // restarted) may take the span again with a new session; any other failure keeps the route away from it.
    if (cause.code !== 'unknown-session') this.excluded.add(failed.peerId);
    this.verifier.exclude(failed.peerId);
    this.verifier.drop(failed);
    // Close what may still be open there; a peer that answered garbage loses its link too.
    if (failed.link !== null && failed.link.isOpen) {
      failed.link.request<'close'>({ type: 'close', sessionId: failed.sessionId }, 1000).catch(() => undefined);
    }
    if (cause.code === 'bad-frame' || cause.code === 'timeout') this.links.drop(failed.peerId);
    const record: FailoverRecord = {
      atToken: this.tokensSoFar, failedPeer: failed.peerId, span: failed.span, code: cause.code, message: cause.message,
      replacement: [], replayedSteps: failed.history.length, recoveryMs: 0,
    };
    if (cause.code === 'wrong-result') record.banned = cause.data?.banned === true;
    this.failovers.push(record);
    this.replacingHop = { failedPeer: failed.peerId, span: failed.span };
    const lease = await (async () => {
      await sleep(retryBackoffMs(this.backoff, this.failovers.length - 1), this.signal); // 0 before the first try
      // A peer this page cannot reach (an ICE problem) is not gone, so nobody is moved onto its blocks: no wait for one.
      return this.requestRouteWithRetry(failed.span, this.failovers.length - 1, iceProblemOf(cause) === undefined ? this.opts.failoverWaitMs : 0);
    })()
      .catch((e: unknown) => {
        if (isBouquetError(e, 'aborted')) throw e;
        const err = toPeerError(e, 'no-route');
        throw new PeerError(err.code, `${err.message} (while replacing ${failed.peerId} on blocks [${failed.span.start}, ${failed.span.end}) after ${cause.code}: ${cause.message})`, 0, failed.peerId, iceProblemOf(cause));
      })
      .finally(() => {
        this.replacingHop = null;
      });
    await this.installHops(index, 1, lease.chain, lease.leaseToken, signedLeaseId(lease));
    this.replaying++;
    try {
      for (const step of failed.history) {
        await this.runSpan(index, failed.span.end, step.hidden, step.position);
      }
    } finally {
      this.replaying--;
    }
    record.replacement = this.hops
      .filter((h) => h.span.start >= failed.span.start && h.span.end <= failed.span.end)
      .map((h) => ({ peerId: h.peerId, span: h.span }));
    record.recoveryMs = performance.now() - t0;
    this.opts.onFailover?.(record);
  }

  /** A route for `span` (see askRouteWithRetry), kept among this generation's leases. */
  private async requestRouteWithRetry(span: BlockSpan, attempt0: number, waitMs: number): Promise<RouteLease> {
    const lease = await askRouteWithRetry(
      { routes: this.opts.routes, links: this.links, backoff: this.backoff, routeRetries: this.opts.routeRetries, signal: this.signal },
      { span, promptTokens: this.promptTokens, maxNewTokens: this.maxNewTokens, excluded: this.excluded }, attempt0, waitMs,
    );
    this.leases.push(lease);
    return lease;
  }

  /** Closes every hop's session and releases the routes (sending `measured` with the first), and the session's own links. */
  private async endChain(measured: MeasuredRequest | undefined): Promise<void> {
    const closes = this.hops.map((h) =>
      h.link !== null && h.link.isOpen
        ? h.link.request<'close'>({ type: 'close', sessionId: h.sessionId }, 2000).catch(() => undefined)
        : Promise.resolve(undefined),
    );
    await Promise.all(closes);
    const leases = this.leases;
    this.leases = [];
    await Promise.all(leases.map((l, i) => this.opts.routes.releaseRoute(l.leaseId, i === 0 ? measured : undefined).catch(() => undefined)));
    // The hops stay for `route` (the chain this generation ended on), without their sessions.
    for (const h of this.hops) h.link = null;
    this.processed = [];
    if (this.ownsLinks) this.links.closeAll();
  }
}
