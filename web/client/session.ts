// ClientSession: one generation through a chain of volunteers — client-centric forwarding, chunked prefill, failover with replay.
import {
  FrameLink, PeerError, toPeerError,
  type HiddenStates, type Transport, type WireDtype,
} from '../../core/protocol/index.ts';
import type { ErrorCode } from '../../core/errors/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { RouteHopSpec, RouteLease, RouteProvider } from './routes.ts';

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

/** Picks the next token from logits; `seen` holds the prompt and the tokens generated so far. */
export type Sampler = (logits: Float32Array, seen: readonly number[]) => number;

/** Greedy decoding: the index of the largest logit (lowest index on ties). */
export const greedy: Sampler = (logits) => {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if ((logits[i] ?? -Infinity) > (logits[best] ?? -Infinity)) best = i;
  return best;
};

/** Opens FrameLinks to peers, one per peer, reused across sessions of a client tab. */
export class LinkPool {
  private readonly links = new Map<string, Promise<FrameLink>>();
  constructor(
    private readonly transport: Transport,
    private readonly connectTimeoutMs = 10_000,
    private readonly requestTimeoutMs = 30_000,
  ) {}

  get(peerId: string): Promise<FrameLink> {
    const have = this.links.get(peerId);
    if (have !== undefined) return have;
    const p = this.transport.connect(peerId, { timeoutMs: this.connectTimeoutMs }).then((conn) => {
      const link = new FrameLink(conn, { requestTimeoutMs: this.requestTimeoutMs });
      link.onClose(() => {
        if (this.links.get(peerId) === p) this.links.delete(peerId);
      });
      return link;
    });
    this.links.set(peerId, p);
    p.catch(() => {
      if (this.links.get(peerId) === p) this.links.delete(peerId);
    });
    return p;
  }

  /** Drops (and closes) the link to a peer that misbehaved, so the next `get` dials afresh. */
  drop(peerId: string): void {
    const p = this.links.get(peerId);
    this.links.delete(peerId);
    p?.then((l) => l.close()).catch(() => undefined);
  }

  closeAll(): void {
    for (const id of [...this.links.keys()]) this.drop(id);
  }
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

/** Options of one generation. */
export interface GenerateOptions {
  maxNewTokens: number;
  /** Default greedy. */
  sampler?: Sampler;
  /** Stop when one of these is sampled; it is not emitted (as `bouquet generate` does with BOS/EOS). */
  stopTokenIds?: number[];
  /** Called for each token as it is sampled. */
  onToken?: (token: GeneratedToken) => void;
  signal?: AbortSignal;
}

/** One generated token. */
export interface GeneratedToken {
  id: number;
  /** 0-based index among generated tokens. */
  index: number;
  /** Time since the previous token (for the first: since the request started), ms. */
  latencyMs: number;
}

/** What a finished generation reports. */
export interface GenerationResult {
  /** Generated token ids (without the prompt). */
  ids: number[];
  /** The chain at the end (after any failover). */
  route: RouteHopSpec[];
  failovers: FailoverRecord[];
  /** Time to first token, ms. */
  ttftMs: number;
  /** Latency of every generated token after the first, ms. */
  perTokenMs: number[];
  totalMs: number;
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
  /** Backoff before the k-th retry of a failover: base · 2^(k−1), 0 for the first, ms (default 100). */
  backoffBaseMs?: number;
  /** Cap on that backoff, ms (default 5000). */
  backoffMaxMs?: number;
  /** Called on every failover (for status lines). */
  onFailover?: (f: FailoverRecord) => void;
  /** Random session ids (default crypto.randomUUID). */
  newSessionId?: () => string;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new PeerError('aborted', 'aborted'));
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
export class ClientSession {
  private readonly opts: Required<Omit<ClientSessionOptions, 'links' | 'onFailover'>> & Pick<ClientSessionOptions, 'onFailover'>;
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
  private signal: AbortSignal | undefined;

  constructor(options: ClientSessionOptions) {
    this.opts = {
      prefillChunkTokens: 256, dtype: 'fp32', stepTimeoutMs: 30_000, maxFailovers: 5, routeRetries: 8, backoffBaseMs: 100,
      backoffMaxMs: 5000, newSessionId: () => crypto.randomUUID(), ...options,
    };
    this.ownsLinks = options.links === undefined;
    this.links = options.links ?? new LinkPool(options.transport, 10_000, this.opts.stepTimeoutMs);
  }

  /** The chain in use now. */
  get route(): RouteHopSpec[] {
    return this.hops.map((h) => ({ peerId: h.peerId, span: h.span }));
  }

  /**
   * Generates up to `maxNewTokens` tokens after `promptIds`, streaming each through `onToken`.
   * Closes its sessions and releases its routes at the end, also on failure.
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
    const sampler = options.sampler ?? greedy;
    const stop = new Set(options.stopTokenIds ?? []);
    const started = performance.now();
    const ids: number[] = [];
    const perTokenMs: number[] = [];
    let ttftMs = 0;
    let failed = true;
    try {
      await this.openChain();
      // Prefill, in chunks that keep each step's message bounded.
      const x = await m.embed(promptIds);
      let out: HiddenStates = x;
      for (let from = 0; from < x.rows; from += this.opts.prefillChunkTokens) {
        const to = Math.min(x.rows, from + this.opts.prefillChunkTokens);
        out = await this.runSpan(0, m.numBlocks, sliceRows(x, from, to), from);
      }
      let last = performance.now();
      let position = promptIds.length;
      const seen = [...promptIds];
      let token = sampler(await m.head(lastRow(out)), seen);
      for (;;) {
        if (stop.has(token)) break;
        const now = performance.now();
        const latencyMs = now - last;
        last = now;
        if (ids.length === 0) ttftMs = now - started;
        else perTokenMs.push(latencyMs);
        ids.push(token);
        seen.push(token);
        this.tokensSoFar = ids.length;
        options.onToken?.({ id: token, index: ids.length - 1, latencyMs });
        if (ids.length >= options.maxNewTokens) break;
        if (options.signal?.aborted === true) throw new PeerError('aborted', 'generation aborted');
        const h = await this.runSpan(0, m.numBlocks, await m.embed([token]), position);
        position += 1;
        token = sampler(await m.head(h), seen);
      }
      failed = false;
    } finally {
      const totalMs = performance.now() - started;
      await this.finish(failed ? undefined : { totalMs, tokens: ids.length, firstTokenMs: ttftMs });
    }
    return { ids, route: this.route, failovers: this.failovers, ttftMs, perTokenMs, totalMs: performance.now() - started };
  }

  /** Gets the full route and opens a session on every hop (failing over hops that refuse). */
  private async openChain(): Promise<void> {
    const lease = await this.requestRouteWithRetry({ start: 0, end: this.opts.model.numBlocks }, 0);
    this.hops = [];
    await this.installHops(0, 0, lease.chain);
  }

  /**
   * Opens sessions on `specs` and puts them in place of `deleteCount` hops at `index`. A hop that
   * refuses to open stays as a stand-in (no link) and is failed over at once, before any replay
   * reaches it.
   */
  private async installHops(index: number, deleteCount: number, specs: RouteHopSpec[]): Promise<void> {
    const fresh: ActiveHop[] = [];
    const refusals = new Map<ActiveHop, PeerError>();
    for (const spec of specs) {
      try {
        fresh.push(await this.openHop(spec));
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

  private async openHop(spec: RouteHopSpec): Promise<ActiveHop> {
    const link = await this.links.get(spec.peerId).catch((err: unknown) => {
      throw toPeerError(err, 'peer-unavailable');
    });
    const sessionId = this.opts.newSessionId();
    await link.request<'open-session'>(
      { type: 'open-session', sessionId, span: spec.span, maxLength: this.maxLength, dtype: this.opts.dtype },
      this.opts.stepTimeoutMs,
    );
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
      throw new PeerError(cause.code, `gave up after ${this.failovers.length} failovers; last: ${failed.peerId} failed on blocks [${failed.span.start}, ${failed.span.end}): ${cause.message}`, 0, failed.peerId);
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
      const err = toPeerError(e, 'no-route');
      throw new PeerError(err.code, `${err.message} (while replacing ${failed.peerId} on blocks [${failed.span.start}, ${failed.span.end}) after ${cause.code}: ${cause.message})`, 0, failed.peerId);
    });
    await this.installHops(index, 1, lease.chain);
    for (const step of failed.history) {
      await this.runSpan(index, failed.span.end, step.hidden, step.position);
    }
    record.replacement = this.hops
      .filter((h) => h.span.start >= failed.span.start && h.span.end <= failed.span.end)
      .map((h) => ({ peerId: h.peerId, span: h.span }));
    record.recoveryMs = performance.now() - t0;
    this.opts.onFailover?.(record);
  }

  private backoffMs(attempt: number): number {
    if (attempt <= 0) return 0;
    return Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** (attempt - 1));
  }

  /** Asks for a route, retrying 'no-route' with backoff a few times (volunteers may be re-registering). */
  private async requestRouteWithRetry(span: BlockSpan, attempt0: number): Promise<RouteLease> {
    let last: PeerError | undefined;
    for (let k = 0; k < this.opts.routeRetries; k++) {
      if (k > 0) await sleep(this.backoffMs(attempt0 + k), this.signal);
      try {
        const lease = await this.opts.routes.requestRoute(
          { span, promptTokens: this.promptTokens, maxNewTokens: this.maxNewTokens, excludePeers: [...this.excluded] },
          this.signal,
        );
        this.checkChain(lease, span);
        this.leases.push(lease);
        return lease;
      } catch (err) {
        last = toPeerError(err, 'no-route');
        if (!['no-route', 'queue-full', 'infeasible', 'peer-unavailable', 'timeout'].includes(last.code)) throw last;
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
