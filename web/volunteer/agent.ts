// VolunteerAgent: measure speed, register, load the assigned blocks, serve sessions, report load, drain, leave.
import { registerChallengeText, type AssignmentMessage, type Backend, type RegisterMessage, type RegisteredMessage, type VolunteerState } from '../../core/api/index.ts';
import { FrameLink, protocolVersion, type Transport } from '../../core/protocol/index.ts';
import { sameSpan, type BlockSpan, type LinearMs } from '../../core/swarm/index.ts';
import type { BlockRuntime } from '../../worker/index.ts';
import type { VolunteerCoordinator } from './coordinator-client.ts';
import { SessionHost, type HostLimits, type HostStats } from './session-host.ts';
import { VolunteerIdentity } from './identity.ts';
import { LeaseChecker } from './lease-check.ts';

/** What a volunteer measured about itself. */
export interface SpeedMeasurement {
  /** τ_j: decode time per block per token, ms. */
  decodeMsPerBlock: number;
  /** τᴵ_j(l), ms. */
  prefillMsPerBlock: LinearMs;
}

/** Progress of loading an assignment. */
export type LoadPhase = 'downloading' | 'loading';

/**
 * How the agent starts the tab's BlockRuntime: in the page, in a worker (`workerVolunteerRuntime`);
 * in Node tests, in-thread (`inThreadVolunteerRuntime`). Either way `load` gives the one contract.
 */
export interface RuntimeStarter {
  /** Times one block of the model (the speed probe). */
  measureSpeed(): Promise<SpeedMeasurement>;
  /**
   * Starts a runtime for `span` with a KV cache of `cacheSlots` single-block slots of `maxSessionTokens`
   * tokens (core/cache's `cacheBudgetBytes`), replacing what was loaded; reports phases through `onPhase`.
   */
  load(span: BlockSpan, cacheSlots: number, maxSessionTokens: number, onPhase: (phase: LoadPhase, fraction?: number) => void): Promise<BlockRuntime>;
  /** Frees the loaded blocks. */
  unload(): Promise<void>;
}

/** The status line a volunteer page shows. */
export type VolunteerStatus =
  | 'starting' | 'measuring speed' | 'waiting for an assignment' | 'downloading' | 'loading' | 'serving' | 'draining' | 'offline';

/** Everything a status view shows, as plain data. */
export interface VolunteerSnapshot extends HostStats {
  status: VolunteerStatus;
  peerId: string;
  /** Blocks served now (null when none). */
  span: BlockSpan | null;
  /** Loading progress in [0, 1] when known. */
  loadFraction: number | null;
  coordinatorConnected: boolean;
  speed: SpeedMeasurement | null;
  /** Last error worth showing (coordinator or runtime), or null. */
  lastError: string | null;
}

/** Options of a VolunteerAgent. */
export interface VolunteerAgentOptions {
  transport: Transport;
  coordinator: VolunteerCoordinator;
  runtime: RuntimeStarter;
  /** M_j: bytes given to weights + cache. */
  memoryBytes: number;
  backend: Backend;
  modelId: string;
  /** d: the model's hidden size (steps of another width are refused). */
  hiddenSize: number;
  /**
   * Its key pair (the page loads it from IndexedDB; the transport's peer id must be its `peerId`).
   * Default: a fresh one for this agent (then the coordinator must allow hand-picked peer ids).
   */
  identity?: VolunteerIdentity;
  /** Caps per remote peer and the idle timeout of sessions (SessionHost defaults). */
  limits?: HostLimits;
  /** Longest a drain waits for sessions before closing them, ms (default 30000). */
  drainTimeoutMs?: number;
  /** Heartbeat period before the coordinator says otherwise, ms (default 2000). */
  heartbeatIntervalMs?: number;
  /** What drives the heartbeats (default the page's setInterval; pages pass `workerTicker`, which hidden tabs do not throttle). */
  startTicker?: StartTicker;
}

/** Calls `tick` every `periodMs` ms until the returned stop function is called. */
export type StartTicker = (periodMs: number, tick: () => void) => () => void;

const intervalTicker: StartTicker = (periodMs, tick) => {
  const t = setInterval(tick, periodMs);
  return () => clearInterval(t);
};

/**
 * Keeps a noisy probe registrable: a least-squares prefill fit on a busy machine can come out with a
 * negative slope, which the coordinator (rightly) refuses. Slopes and intercepts are clamped at 0 and
 * the decode time at 1 µs.
 */
export function sanitizeSpeed(s: SpeedMeasurement): SpeedMeasurement {
  const finite = (x: number, min: number): number => (Number.isFinite(x) ? Math.max(min, x) : min);
  return {
    decodeMsPerBlock: finite(s.decodeMsPerBlock, 0.001),
    prefillMsPerBlock: { perTokenMs: finite(s.prefillMsPerBlock.perTokenMs, 0), fixedMs: finite(s.prefillMsPerBlock.fixedMs, 0) },
  };
}

/**
 * A volunteer tab's brain. Plain class with getters and an `onChange` event so a Svelte view can
 * wrap it; no DOM.
 */
export class VolunteerAgent {
  private readonly host: SessionHost;
  private status: VolunteerStatus = 'starting';
  private span: BlockSpan | null = null;
  private loadFraction: number | null = null;
  private connected = false;
  private speed: SpeedMeasurement | null = null;
  private lastError: string | null = null;
  private registered: RegisteredMessage | null = null;
  private stopHeartbeats: () => void = () => undefined;
  private assignments: Promise<void> = Promise.resolve();
  private latestAssignmentId = -1;
  private readonly listeners = new Set<(s: VolunteerSnapshot) => void>();
  private loaded: BlockRuntime | null = null;
  private stopped = false;
  /** Settles once the host checks leases of the coordinator registered with (no blocks are served before). */
  private leasesChecked: Promise<void> = Promise.resolve();

  constructor(private readonly options: VolunteerAgentOptions) {
    // The host serves on whichever runtime is loaded now (given with its blocks).
    this.host = new SessionHost(null, undefined, options.limits);
    this.host.onChange(() => this.changed());
    options.transport.onConnection((conn) => this.host.attach(new FrameLink(conn)));
  }

  /** Current state as plain data. */
  get snapshot(): VolunteerSnapshot {
    return {
      ...this.host.stats(),
      status: this.status,
      peerId: this.options.transport.peerId,
      span: this.span,
      loadFraction: this.loadFraction,
      coordinatorConnected: this.connected,
      speed: this.speed,
      lastError: this.lastError,
    };
  }

  /** Calls `listener` with a new snapshot after every change; returns an unsubscribe function. */
  onChange(listener: (s: VolunteerSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Measures speed, then registers; assignments follow from the coordinator. */
  async start(): Promise<void> {
    const identity = this.options.identity ?? (await VolunteerIdentity.load());
    this.setStatus('measuring speed');
    this.speed = sanitizeSpeed(await this.options.runtime.measureSpeed());
    if (this.stopped) return;
    this.setStatus('waiting for an assignment');
    this.options.coordinator.start((nonce) => this.registration(identity, nonce), {
      onRegistered: (m) => {
        this.registered = m;
        // Sessions open only for leases this coordinator signed (its key may change when it restarts).
        this.leasesChecked = LeaseChecker.create({ coordinatorKey: m.coordinatorKey, peerId: this.options.transport.peerId }).then((checker) => {
          this.host.requireLeases(checker);
          this.startHeartbeats(m.heartbeatIntervalMs);
          this.changed();
        }, (e: unknown) => {
          this.lastError = `coordinator key: ${e instanceof Error ? e.message : String(e)}`;
          this.changed();
        });
      },
      onAssignment: (m) => {
        this.latestAssignmentId = m.assignmentId;
        this.assignments = this.assignments.then(() => this.apply(m)).catch((e: unknown) => {
          this.lastError = e instanceof Error ? e.message : String(e);
          this.changed();
        });
      },
      onError: (e) => {
        this.lastError = `coordinator: ${e.message} [${e.code}]`;
        this.changed();
      },
      onConnection: (up) => {
        this.connected = up;
        this.changed();
      },
    });
  }

  /** Leaves cleanly: tells the coordinator, lets sessions finish briefly, closes every connection. */
  async leave(drainMs = 0): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopHeartbeats();
    await this.options.coordinator.leave().catch(() => undefined);
    this.setStatus('draining');
    await this.host.drain(drainMs);
    this.options.transport.close();
    await this.options.runtime.unload().catch(() => undefined);
    this.span = null;
    this.host.setBlocks(null);
    this.setStatus('offline');
  }

  private async registration(identity: VolunteerIdentity, nonce: string): Promise<RegisterMessage> {
    const speed = this.speed ?? { decodeMsPerBlock: 1, prefillMsPerBlock: { perTokenMs: 1, fixedMs: 0 } };
    const peerId = this.options.transport.peerId;
    const m: RegisterMessage = {
      type: 'register',
      peerId,
      publicKey: identity.publicKey,
      signature: await identity.sign(registerChallengeText(nonce, peerId)),
      memoryBytes: this.options.memoryBytes,
      decodeMsPerBlock: speed.decodeMsPerBlock,
      prefillMsPerBlock: speed.prefillMsPerBlock,
      backend: this.options.backend,
      modelId: this.options.modelId,
      protocolVersion,
    };
    if (this.span !== null && this.status === 'serving') m.loadedSpan = this.span;
    const sessions = this.host.sessionLeases();
    if (sessions.length > 0) m.sessions = sessions;
    return m;
  }

  private startHeartbeats(periodMs: number): void {
    this.stopHeartbeats();
    const start = this.options.startTicker ?? intervalTicker;
    this.stopHeartbeats = start(periodMs > 0 ? periodMs : (this.options.heartbeatIntervalMs ?? 2000), () => this.heartbeat());
    this.heartbeat();
  }

  private heartbeat(): void {
    const s = this.host.stats();
    const state: VolunteerState = this.status === 'draining' ? 'draining' : this.status === 'serving' ? 'serving' : 'loading';
    this.options.coordinator.send({
      type: 'heartbeat',
      load: { activeSessions: s.activeSessions, freeCacheSlots: Math.max(0, s.slotsTotal - s.slotsUsed), state },
      sessions: this.host.sessionLeases(),
    });
  }

  private async apply(a: AssignmentMessage): Promise<void> {
    if (this.stopped || a.assignmentId !== this.latestAssignmentId) return; // superseded while queued
    const maxSessionTokens = this.registered?.model.maxSessionTokens ?? 2048;
    if (a.span !== null && this.loaded !== null && sameSpan(a.span, this.span)) {
      // Same blocks (a 'keep' after a reconnect): no reload; open sessions keep their cache.
      this.host.growCache(a.cacheSlots);
      this.setStatus('serving');
      this.options.coordinator.send({ type: 'ready', assignmentId: a.assignmentId, span: a.span });
      return;
    }
    if (this.loaded !== null) {
      this.setStatus('draining');
      this.heartbeat();
      await this.host.drain(this.options.drainTimeoutMs ?? 30_000);
      await this.options.runtime.unload();
      this.loaded = null;
      this.span = null;
      this.host.setBlocks(null);
    }
    if (a.span === null) {
      this.setStatus('waiting for an assignment');
      return;
    }
    this.setStatus('downloading');
    const span = a.span;
    const runtime = await this.options.runtime.load(span, a.cacheSlots, maxSessionTokens, (phase, fraction) => {
      this.loadFraction = fraction ?? null;
      this.setStatus(phase);
    });
    if (this.stopped) return;
    await this.leasesChecked; // never serve a block before sessions are checked against a lease
    this.loaded = runtime;
    this.span = span;
    this.loadFraction = null;
    this.host.setBlocks({ span, cacheSlots: a.cacheSlots, maxSessionTokens, hiddenSize: this.options.hiddenSize }, runtime);
    this.setStatus('serving');
    this.options.coordinator.send({ type: 'ready', assignmentId: a.assignmentId, span });
    this.heartbeat();
  }

  private setStatus(s: VolunteerStatus): void {
    this.status = s;
    this.changed();
  }

  private changed(): void {
    const snap = this.snapshot;
    for (const l of this.listeners) l(snap);
  }
}
