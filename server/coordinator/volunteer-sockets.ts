// Volunteer sockets: the challenge, registration (key proof, id takeover refused), heartbeats, ready, leave, and
// the leases a volunteer reports running (a restarted coordinator rebuilds its book from them).
import type { Logger } from 'pino';
import {
  CoordinatorApiError,
  type LeaveReason,
  type RegisterMessage,
  type RouteRecord,
  type VolunteerMessage,
  type VolunteerView,
  parseLeaseToken,
  parseVolunteerMessage,
  protocolVersion,
} from '../../core/api/index.ts';
import { sameSpan } from '../../core/swarm/index.ts';
import type { CoordinatorKey } from '../identity/index.ts';
import { challengeNonce, checkRegistration, sameKey } from './identity-check.ts';
import type { EventHub } from './events.ts';
import type { LeaseBook } from './leases.ts';
import type { LoopLag } from './loop-lag.ts';
import type { VolunteerConnection, VolunteerLink } from './options.ts';
import type { PlacementLoop } from './placement-loop.ts';
import type { Volunteer, VolunteerRegistry } from './registry.ts';

/** Signed leases one register or heartbeat may have checked (~0.1–0.5 ms each): the rest wait for the next heartbeat. */
const maxVerifiedPerReport = 64;

/** What the volunteer sockets share with the rest of the coordinator. */
export interface VolunteerSocketsDeps {
  registry: VolunteerRegistry;
  leases: LeaseBook;
  events: EventHub;
  placement: PlacementLoop;
  key: CoordinatorKey;
  loopLag: LoopLag;
  log: Logger;
  now: () => number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** How long placement waits for a volunteer whose socket dropped to register again, ms. */
  reconnectGraceMs: number;
  /** Peer ids must be derived from the key (false only for scripted test volunteers). */
  keyBoundPeerIds: boolean;
  /** Capacity changed: serve the central queue. */
  processQueue: () => void;
  view: (v: Volunteer) => VolunteerView;
  /** A lease rebuilt from a volunteer's report (after a restart): record and announce it. */
  onAdopted: (record: RouteRecord) => void;
  /** Keys banned for a confirmed wrong result: their registrations are refused. */
  isBanned: (peerId: string) => boolean;
}

/** The coordinator's side of every volunteer socket. */
export class VolunteerSockets {
  /** When this coordinator started (wall clock, performance.now() ms). */
  private readonly startedAt = performance.now();

  constructor(private readonly deps: VolunteerSocketsDeps) {}

  /**
   * A volunteer socket opened; feed its messages to the returned handle. `challenged`: the nonce
   * the socket already got (it moved here from another model's coordinator), else a new challenge is sent.
   */
  connect(link: VolunteerLink, challenged?: string): VolunteerConnection {
    let peerId: string | undefined;
    // Every socket gets its own nonce: a registration proves the key now, on this socket (no replay).
    const nonce = challenged ?? challengeNonce();
    if (challenged === undefined) link.send({ type: 'challenge', nonce });
    const registerTimer = setTimeout(() => {
      if (peerId === undefined) link.close(4000, 'no register message within the heartbeat timeout');
    }, this.deps.heartbeatTimeoutMs);
    registerTimer.unref();
    const fail = (error: CoordinatorApiError): void => link.send({ type: 'error', error: error.toWire() });
    return {
      nonce,
      receive: (raw) => {
        const parsed = parseVolunteerMessage(raw);
        if (!parsed.ok) return fail(parsed.error);
        const m = parsed.value;
        if (m.type === 'register') {
          try {
            peerId = this.register(m, link, peerId, nonce);
          } catch (e) {
            if (e instanceof CoordinatorApiError) {
              fail(e);
              if (e.code === 'model-mismatch') link.close(4001, e.message);
              if (e.code === 'banned') link.close(4004, e.message);
              return;
            }
            throw e;
          }
          clearTimeout(registerTimer);
          return;
        }
        const v = peerId === undefined ? undefined : this.deps.registry.get(peerId);
        if (v === undefined || v.link !== link) {
          return fail(new CoordinatorApiError('not-registered', `send 'register' before '${m.type}'`));
        }
        this.onMessage(v, m);
      },
      closed: () => {
        clearTimeout(registerTimer);
        const v = peerId === undefined ? undefined : this.deps.registry.get(peerId);
        if (v === undefined || v.link !== link) return;
        // No goodbye: its network may have changed; placement gives it a moment to register again with its span.
        this.deps.placement.awaitReturn(v.peerId, this.deps.reconnectGraceMs);
        this.remove(v.peerId, 'disconnect');
      },
    };
  }

  private register(m: RegisterMessage, link: VolunteerLink, previousPeerId: string | undefined, nonce: string): string {
    if (m.protocolVersion !== protocolVersion) throw new CoordinatorApiError('version-mismatch', `this coordinator speaks protocol version ${protocolVersion}, not ${m.protocolVersion}: reload the volunteer page`, 'protocolVersion');
    if (m.modelId !== this.deps.registry.model.id) {
      throw new CoordinatorApiError('model-mismatch', `this coordinator serves model '${this.deps.registry.model.id}', not '${m.modelId}'`, 'modelId');
    }
    if (m.loadedSpan !== undefined && m.loadedSpan.end > this.deps.registry.model.numBlocks) {
      throw new CoordinatorApiError('bad-request', `loadedSpan.end must be ≤ ${this.deps.registry.model.numBlocks} (the model's blocks)`, 'loadedSpan.end');
    }
    // Proof of the key, and that the id is the key's: else refused, and whoever holds the id is undisturbed.
    checkRegistration(m, nonce, this.deps.keyBoundPeerIds);
    if (this.deps.isBanned(m.peerId)) throw new CoordinatorApiError('banned', `peer '${m.peerId}' gave a wrong result, confirmed by recomputation: its key is banned`, 'peerId');
    const held = this.deps.registry.get(m.peerId);
    if (held !== undefined && !sameKey(held.publicKey, m.publicKey)) {
      throw new CoordinatorApiError('identity-refused', `peer id '${m.peerId}' is registered with another key; a re-registration must prove the same key`, 'peerId');
    }
    if (previousPeerId !== undefined && previousPeerId !== m.peerId) this.remove(previousPeerId, 'replaced');
    const old = this.deps.registry.get(m.peerId);
    if (old !== undefined) {
      this.remove(m.peerId, 'replaced', { schedule: false });
      if (old.link !== link) old.link.close(4002, 'replaced by a newer registration of the same peer id');
    }
    const now = this.deps.now();
    const loaded = m.loadedSpan ?? null;
    const v: Volunteer = {
      peerId: m.peerId,
      publicKey: m.publicKey,
      memoryBytes: m.memoryBytes,
      decodeMsPerBlock: m.decodeMsPerBlock,
      prefillMsPerBlock: m.prefillMsPerBlock,
      backend: m.backend,
      link,
      joinedAtMs: now,
      lastHeartbeatAtMs: now,
      // A loaded span is kept, but serves only once the volunteer answers the 'keep' with `ready`.
      load: { activeSessions: 0, freeCacheSlots: 0, state: 'loading' },
      assignedSpan: loaded,
      servingSpan: null,
      assignmentId: 0,
      everAssigned: loaded !== null,
      cacheSlots: this.deps.registry.slotsFor(m.memoryBytes, loaded),
      lostMsAtHeartbeat: this.deps.loopLag.lostMs,
    };
    v.load.freeCacheSlots = v.cacheSlots;
    this.deps.registry.add(v);
    link.send({
      type: 'registered',
      peerId: v.peerId,
      coordinatorKey: this.deps.key.publicKey,
      model: this.deps.registry.model,
      heartbeatIntervalMs: this.deps.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.deps.heartbeatTimeoutMs,
    });
    // Sessions it runs (after a coordinator restart) are booked before it can be routed to.
    this.adoptSessions(v, m.sessions);
    if (loaded !== null) this.deps.registry.sendAssignment(v, loaded, 'keep');
    this.deps.log.info({ peerId: v.peerId, memoryBytes: v.memoryBytes, decodeMsPerBlock: v.decodeMsPerBlock, loadedSpan: loaded }, 'volunteer registered');
    this.deps.events.emit({ type: 'volunteer-joined', volunteer: this.deps.view(v) });
    this.deps.placement.returned(v.peerId);
    // A volunteer with loaded blocks within a heartbeat timeout of our start is back from our restart, and the others
    // may be on their way: each such return holds placement for the grace again (never past that heartbeat timeout).
    const sinceStartMs = performance.now() - this.startedAt;
    if (loaded !== null) this.deps.placement.holdFor(Math.min(this.deps.reconnectGraceMs, this.deps.heartbeatTimeoutMs - sinceStartMs));
    this.deps.placement.schedule();
    return v.peerId;
  }

  private onMessage(v: Volunteer, m: Exclude<VolunteerMessage, RegisterMessage>): void {
    switch (m.type) {
      case 'heartbeat': {
        v.lastHeartbeatAtMs = this.deps.now();
        v.lostMsAtHeartbeat = this.deps.loopLag.lostMs;
        // Told to stay idle (no span; GBP-CR-like placements leave volunteers beyond the planned load idle), a volunteer
        // has nothing to load: its "waiting for an assignment" heartbeat ('loading') means idle and ready, as sendAssignment set it.
        const load = v.everAssigned && v.assignedSpan === null && m.load.state === 'loading' ? { ...m.load, state: 'serving' as const } : m.load;
        const changed =
          v.load.activeSessions !== load.activeSessions || v.load.freeCacheSlots !== load.freeCacheSlots || v.load.state !== load.state;
        const wasRoutable = this.deps.registry.isRoutable(v);
        v.load = load;
        this.adoptSessions(v, m.sessions);
        if (changed) this.deps.events.emit({ type: 'volunteer-updated', volunteer: this.deps.view(v) });
        if (wasRoutable !== this.deps.registry.isRoutable(v)) this.deps.processQueue();
        return;
      }
      case 'ready': {
        v.lastHeartbeatAtMs = this.deps.now();
        v.lostMsAtHeartbeat = this.deps.loopLag.lostMs;
        if (m.assignmentId !== v.assignmentId || !sameSpan(m.span, v.assignedSpan)) {
          this.deps.log.warn({ peerId: v.peerId, got: m, expected: { assignmentId: v.assignmentId, span: v.assignedSpan } }, 'stale ready ignored');
          return;
        }
        v.servingSpan = m.span;
        v.load = { ...v.load, state: 'serving' };
        this.deps.log.info({ peerId: v.peerId, span: m.span }, 'volunteer ready');
        this.deps.events.emit({ type: 'volunteer-updated', volunteer: this.deps.view(v) });
        this.deps.placement.refreshView();
        this.deps.processQueue();
        return;
      }
      case 'leave':
        this.remove(v.peerId, 'leave');
        v.link.close(1000, 'left');
        return;
      default: {
        const never: never = m;
        throw new CoordinatorApiError('internal', `unhandled volunteer message ${JSON.stringify(never)}`);
      }
    }
  }

  /** Drops a volunteer from the registry (and, unless `schedule` is false, re-places and serves the queue). */
  remove(peerId: string, reason: LeaveReason, opts: { schedule?: boolean } = {}): void {
    if (this.deps.registry.delete(peerId) === undefined) return;
    this.deps.log.info({ peerId, reason }, 'volunteer left');
    this.deps.events.emit({ type: 'volunteer-left', peerId, reason });
    if (opts.schedule ?? true) {
      this.deps.placement.refreshView();
      this.deps.placement.schedule();
      this.deps.processQueue();
    }
  }

  /**
   * Books the leases a volunteer reports running that this coordinator does not know (it restarted):
   * only tokens it signed itself, naming this volunteer, not ended in this run. So a restarted
   * coordinator never books those slots twice.
   */
  private adoptSessions(v: Volunteer, tokens: readonly string[] | undefined): void {
    if (tokens === undefined) return;
    let adopted = 0;
    let verified = 0;
    for (const token of tokens) {
      // Known leases cost nothing (the usual heartbeat); a signature check is bounded per message (the event loop stays free).
      const parsed = parseLeaseToken(token);
      if (!parsed.ok || !this.deps.leases.unknown(parsed.value.grant.leaseId)) continue;
      if (++verified > maxVerifiedPerReport) break;
      const grant = this.deps.key.verifyLease(token);
      if (grant === null || !grant.chain.some((h) => h.peerId === v.peerId)) continue;
      const record = this.deps.leases.adopt(grant);
      if (record === undefined) continue;
      adopted++;
      this.deps.onAdopted(record);
    }
    if (adopted > 0) this.deps.log.info({ peerId: v.peerId, adopted }, 'leases rebuilt from a volunteer report');
  }
}
