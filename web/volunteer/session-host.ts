// SessionHost: serves inference sessions on a volunteer's blocks — the boundary where peer frames meet the BlockRuntime:
// protocol version, admission by cache token blocks, validation, ordering.
import { KvCacheBudget, reserveTokensFor } from '../../core/cache/index.ts';
import { FrameLink, PeerError, protocolVersion, type RequestFrame, type ResponseFrame } from '../../core/protocol/index.ts';
import { emptyInputsDigest, nextInputsDigest, stepSigningText, tensorWireBytes } from '../../core/verify/index.ts';
import type { SessionRuntime } from '../../worker/index.ts';
import type { LeaseChecker } from './lease-check.ts';
import { asPeerError, type HostedBlocks, type HostedSession, type HostLimits, type HostStats, type StepSigner } from './session-host-types.ts';

export type { HostedBlocks, HostLimits, HostStats, StepSigner } from './session-host-types.ts';


/**
 * Serves sessions arriving on FrameLinks on a BlockRuntime. This is where peer input is validated,
 * once (decodeFrame has checked the frame's shape and finite values): an open-session of another
 * protocol version is refused ('version-mismatch'); a session is admitted only if its KV-cache token
 * blocks are free (refused at once with 'cache-full' otherwise); every step is checked against its
 * session (known id on this link, dtype, width, step index, position, length). A bad request gets an
 * error and disturbs no other session. Sessions of a link that closes are freed.
 */
export class SessionHost {
  private blocks: HostedBlocks | null = null;
  private cache: KvCacheBudget | null = null;
  private draining = false;
  private readonly sessions = new Map<string, HostedSession>();
  private readonly linkIds = new WeakMap<FrameLink, number>();
  private nextLinkId = 1;
  private nextRuntimeId = 1;
  private sessionsServed = 0;
  private tokensProcessed = 0;
  private readonly stepTime = { steps: 0, computeMs: 0, serveMs: 0 };
  private readonly recent: { atMs: number; tokens: number }[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly drainWaiters = new Set<() => void>();
  private leases: LeaseChecker | null = null;
  private signer: StepSigner | null = null;
  private readonly linksByPeer = new Map<string, number>();
  private linkCount = 0;
  private readonly limits: Required<HostLimits>;

  /** Serves on `runtime` (or on the one `setBlocks` gives, when the runtime changes with the blocks). */
  constructor(private runtime: SessionRuntime | null = null, private readonly rateWindowMs = 10_000, limits: HostLimits = {}) {
    this.limits = {
      maxConnectionsPerPeer: limits.maxConnectionsPerPeer ?? 8,
      maxConnections: limits.maxConnections ?? 256,
      maxSessionsPerPeer: limits.maxSessionsPerPeer ?? 16,
      idleTimeoutMs: limits.idleTimeoutMs ?? 120_000,
    };
  }

  /**
   * From now on a session opens only with a lease `checker` accepts (the coordinator signed it for
   * this peer, span and client). The agent installs one at registration; a bare host (unit tests of
   * the protocol) checks none.
   */
  requireLeases(checker: LeaseChecker): void {
    this.leases = checker;
  }

  /**
   * From now on every step answer carries the volunteer's signature of its output (core/verify
   * stepSigningText), so a wrong result is evidence the coordinator can check. The agent installs it.
   */
  signOutputs(signer: StepSigner): void {
    this.signer = signer;
  }

  /** The signed leases of the sessions open now, each once (heartbeats report them). */
  sessionLeases(): string[] {
    const tokens = new Set<string>();
    for (const s of this.sessions.values()) if (s.leaseToken !== undefined) tokens.add(s.leaseToken);
    return [...tokens];
  }

  /**
   * Starts serving `blocks` (null: serve nothing) on `runtime` (default: the one it has). Call only
   * when no session is active (after `drain`): the cache budget starts empty.
   */
  setBlocks(blocks: HostedBlocks | null, runtime?: SessionRuntime): void {
    this.blocks = blocks;
    if (runtime !== undefined) this.runtime = runtime;
    this.cache = blocks === null ? null : KvCacheBudget.ofSlots(blocks.cacheSlots, blocks.maxSessionTokens);
    this.draining = false;
    this.changed();
  }

  /** Grows the cache to `cacheSlots` slots for the blocks served now, keeping the open sessions (the coordinator granted more). */
  growCache(cacheSlots: number): void {
    if (this.blocks === null || this.cache === null || cacheSlots <= this.blocks.cacheSlots) return;
    this.blocks = { ...this.blocks, cacheSlots };
    this.cache.growToSlots(cacheSlots);
    this.changed();
  }

  /** The blocks served now. */
  get hosted(): HostedBlocks | null {
    return this.blocks;
  }

  /** Registers a listener called after every change of the counters. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Serves the requests of one link (one connected client); closes it at once past the connection caps. */
  attach(link: FrameLink): void {
    const peer = link.remotePeerId;
    const fromPeer = this.linksByPeer.get(peer) ?? 0;
    if (fromPeer >= this.limits.maxConnectionsPerPeer || this.linkCount >= this.limits.maxConnections) {
      link.close();
      return;
    }
    this.linksByPeer.set(peer, fromPeer + 1);
    this.linkCount++;
    this.linkIds.set(link, this.nextLinkId++);
    link.serve((req) => this.handle(link, req));
    link.onClose(() => {
      this.linkCount--;
      const n = (this.linksByPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.linksByPeer.delete(peer);
      else this.linksByPeer.set(peer, n);
      for (const s of [...this.sessions.values()]) if (s.link === link) void this.release(s);
    });
  }

  /** Connections open now (all peers). */
  get connections(): number {
    return this.linkCount;
  }

  /**
   * Refuses new sessions ('draining') and resolves once the active ones have closed, or after
   * `timeoutMs`, when the rest are closed by force (their clients fail over).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.changed();
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const waiters = this.drainWaiters;
        const timer = setTimeout(done, timeoutMs);
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
    for (const s of [...this.sessions.values()]) {
      await this.release(s);
      s.link.close();
    }
  }

  /** True while draining. */
  get isDraining(): boolean {
    return this.draining;
  }

  stats(nowMs: number = Date.now()): HostStats {
    while (this.recent.length > 0 && (this.recent[0]?.atMs ?? 0) < nowMs - this.rateWindowMs) this.recent.shift();
    const windowTokens = this.recent.reduce((a, r) => a + r.tokens, 0);
    const first = this.recent[0]?.atMs;
    const spanMs = first === undefined ? 0 : Math.max(1000, nowMs - first);
    const cache = this.cache?.usage();
    return {
      activeSessions: this.sessions.size,
      sessionsServed: this.sessionsServed,
      slotsUsed: cache?.usedSlots ?? 0,
      slotsTotal: cache?.totalSlots ?? 0,
      cacheTokenBlocksUsed: cache?.usedTokenBlocks ?? 0,
      cacheTokenBlocksTotal: cache?.totalTokenBlocks ?? 0,
      tokensProcessed: this.tokensProcessed,
      steps: this.stepTime.steps,
      stepComputeMs: this.stepTime.computeMs,
      stepServeMs: this.stepTime.serveMs,
      tokensPerS: spanMs === 0 ? 0 : (windowTokens * 1000) / spanMs,
    };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private key(link: FrameLink, sessionId: string): string {
    return `${this.linkIds.get(link) ?? 0}/${sessionId}`;
  }

  private async handle(link: FrameLink, req: RequestFrame): Promise<ResponseFrame> {
    switch (req.type) {
      case 'ping':
        return { type: 'pong', id: req.id, sentAtMs: req.sentAtMs };
      case 'open-session':
        return this.open(link, req);
      case 'step':
        return this.step(link, req);
      case 'close': {
        const s = this.sessions.get(this.key(link, req.sessionId));
        if (s === undefined) throw new PeerError('unknown-session', `session '${req.sessionId}' is not open here`, req.id);
        await s.tail.catch(() => undefined);
        await this.release(s);
        return { type: 'closed', id: req.id, sessionId: req.sessionId };
      }
      default: {
        const never: never = req;
        throw new PeerError('bad-frame', `unknown request ${JSON.stringify(never)}`);
      }
    }
  }

  private async open(link: FrameLink, req: Extract<RequestFrame, { type: 'open-session' }>): Promise<ResponseFrame> {
    if (req.protocolVersion !== protocolVersion) {
      throw new PeerError('version-mismatch', `this volunteer speaks protocol version ${protocolVersion}, the client ${req.protocolVersion ?? 0}: reload the older page`, req.id);
    }
    // First the lease (the only await before booking): everything below runs without yielding, so concurrent opens cannot overbook.
    const grant = this.leases === null ? null : await this.leases.check(req.lease, req.span, link.remotePeerId, req.id);
    const b = this.blocks;
    let held = 0;
    for (const x of this.sessions.values()) if (x.link.remotePeerId === link.remotePeerId) held++;
    if (held >= this.limits.maxSessionsPerPeer) {
      throw new PeerError('peer-limit', `peer ${link.remotePeerId} already holds ${held} sessions here (at most ${this.limits.maxSessionsPerPeer})`, req.id);
    }
    if (this.draining) throw new PeerError('draining', 'this volunteer is draining before a reassignment; ask for another route', req.id);
    const runtime = this.runtime;
    const cache = this.cache;
    if (b === null || runtime === null || cache === null) throw new PeerError('wrong-span', 'this volunteer serves no blocks yet', req.id);
    if (req.span.start < b.span.start || req.span.end > b.span.end) {
      throw new PeerError('wrong-span', `blocks [${req.span.start}, ${req.span.end}) are not all served here (serving [${b.span.start}, ${b.span.end}))`, req.id);
    }
    if (req.maxLength > b.maxSessionTokens) {
      throw new PeerError('sequence-too-long', `a session of ${req.maxLength} tokens exceeds the ${b.maxSessionTokens} this cache is sized for`, req.id);
    }
    const key = this.key(link, req.sessionId);
    if (this.sessions.has(key)) throw new PeerError('bad-frame', `session '${req.sessionId}' is already open`, req.id);
    const slots = req.span.end - req.span.start;
    // Booked before awaiting, so concurrent opens cannot overbook; by the declared length, as the runtime reserves it.
    const admitted = cache.admit(key, slots, reserveTokensFor(req.maxLength, b.maxSessionTokens, 'declared'));
    if (!admitted.ok) {
      throw new PeerError(
        'cache-full',
        `no free cache: ${admitted.neededTokenBlocks} token blocks needed (${slots} blocks), ${admitted.freeTokenBlocks} of ${cache.usage().totalTokenBlocks} free`,
        req.id,
      );
    }
    const s: HostedSession = {
      key, link, sessionId: `${this.nextRuntimeId++}:${req.sessionId}`, span: req.span, maxLength: req.maxLength,
      dtype: req.dtype, slots, nextStepIndex: 0, nextPosition: 0, tail: Promise.resolve(), broken: false,
      leaseId: grant?.leaseId ?? '', inputsDigest: emptyInputsDigest,
    };
    if (this.leases !== null && req.lease !== undefined) s.leaseToken = req.lease;
    this.sessions.set(key, s);
    this.touch(s);
    try {
      await runtime.openSession({ sessionId: s.sessionId, blocks: req.span, maxLength: req.maxLength });
    } catch (err) {
      this.sessions.delete(key);
      cache.free(key);
      this.changed();
      throw asPeerError(err, req.id);
    }
    if (!link.isOpen || this.sessions.get(key) !== s) {
      await this.release(s);
      throw new PeerError('peer-unavailable', 'the client left while the session opened', req.id);
    }
    this.sessionsServed++;
    this.changed();
    return { type: 'opened', id: req.id, sessionId: req.sessionId };
  }

  private step(link: FrameLink, req: Extract<RequestFrame, { type: 'step' }>): Promise<ResponseFrame> {
    const s = this.sessions.get(this.key(link, req.sessionId));
    const b = this.blocks;
    const runtime = this.runtime;
    if (s === undefined || b === null || runtime === null) throw new PeerError('unknown-session', `session '${req.sessionId}' is not open here`, req.id);
    if (s.broken) throw new PeerError('internal', `session '${req.sessionId}' failed earlier; open a new one`, req.id);
    if (req.dtype !== s.dtype) throw new PeerError('bad-frame', `session '${req.sessionId}' was opened for ${s.dtype}, step sent ${req.dtype}`, req.id);
    if (req.hidden.cols !== b.hiddenSize) {
      throw new PeerError('bad-frame', `hidden states are ${req.hidden.cols} wide, the model's hidden size is ${b.hiddenSize}`, req.id);
    }
    if (req.stepIndex !== s.nextStepIndex || req.position !== s.nextPosition) {
      throw new PeerError(
        'out-of-order',
        `expected step ${s.nextStepIndex} at position ${s.nextPosition}, got step ${req.stepIndex} at position ${req.position}`,
        req.id,
      );
    }
    if (req.position + req.hidden.rows > s.maxLength) {
      throw new PeerError('sequence-too-long', `step would grow the session to ${req.position + req.hidden.rows} tokens, its maximum is ${s.maxLength}`, req.id);
    }
    s.nextStepIndex++;
    s.nextPosition += req.hidden.rows;
    this.touch(s);
    const run = s.tail.then(async (): Promise<ResponseFrame> => {
      try {
        // Validated above and by decodeFrame; the runtime takes the buffer over (it may be transferred to a worker).
        const t0 = performance.now();
        const signer = this.signer;
        if (signer !== null) s.inputsDigest = await nextInputsDigest(signer.sha256, s.inputsDigest, tensorWireBytes(req.hidden.data, s.dtype));
        const out = await runtime.step(s.sessionId, new Float32Array(req.hidden.data));
        this.stepTime.steps++;
        this.stepTime.computeMs += out.computeMs;
        this.stepTime.serveMs += performance.now() - t0;
        this.tokensProcessed += req.hidden.rows;
        this.touch(s);
        this.recent.push({ atMs: Date.now(), tokens: req.hidden.rows });
        this.changed();
        const hidden = { rows: out.tokens, cols: b.hiddenSize, data: out.hidden };
        const answer: ResponseFrame = { type: 'step-result', id: req.id, sessionId: req.sessionId, stepIndex: req.stepIndex, dtype: s.dtype, hidden };
        if (signer !== null) {
          // Signed as it travels (wire bytes in the session's dtype): the answer is the volunteer's word, checkable by anyone with its public key.
          const outputDigest = await signer.sha256(tensorWireBytes(out.hidden, s.dtype));
          answer.signature = await signer.sign(stepSigningText({ leaseId: s.leaseId, sessionId: req.sessionId, stepIndex: req.stepIndex, inputsDigest: s.inputsDigest, outputDigest }));
        }
        return answer;
      } catch (err) {
        // The cache may hold part of this step: the session cannot go on.
        s.broken = true;
        throw asPeerError(err, req.id);
      }
    });
    s.tail = run.catch(() => undefined);
    return run;
  }

  /** Restarts `s`'s idle clock: closed (cache freed) after `idleTimeoutMs` without a request. */
  private touch(s: HostedSession): void {
    clearTimeout(s.idleTimer);
    s.idleTimer = setTimeout(() => void this.release(s), this.limits.idleTimeoutMs);
    (s.idleTimer as { unref?: () => void }).unref?.();
  }

  private async release(s: HostedSession): Promise<void> {
    if (this.sessions.get(s.key) !== s) return;
    clearTimeout(s.idleTimer);
    this.sessions.delete(s.key);
    this.cache?.free(s.key);
    try {
      await this.runtime?.closeSession(s.sessionId);
    } catch {
      // The runtime frees what it can; the host's budget is already freed.
    }
    this.changed();
    if (this.sessions.size === 0) for (const w of [...this.drainWaiters]) w();
  }
}
