// Route leases (the slots a granted route holds until released, renewed or expired) and the queue's tickets.
import { randomUUID } from 'node:crypto';
import { CoordinatorApiError, type LeaseGrant, type MeasuredTimes, type RouteHop, type RouteRecord, type RouteRequest, type RouteResponse } from '../../core/api/index.ts';
import { CoordinatorKey } from '../identity/index.ts';
import type { TimeBreakdown } from '../../core/swarm/index.ts';
import { CentralQueue, hopSlots, snapWhole, type Booking } from '../../core/dispatch/index.ts';

interface Lease {
  /** The unguessable id (never published: the record carries its tag). */
  leaseId: string;
  record: RouteRecord;
  expiresAtMs: number;
  /** Chain identity for JFFC's per-chain session count (full-span leases only). */
  chainKey?: string;
  /** Slots each hop holds (by the hop's index; absent: a whole slot per block). */
  hopSlots?: readonly number[];
}

/** A granted decision: the hops, what they are predicted to take, and the JFFC chain they are. */
export interface Grant {
  hops: RouteHop[];
  predicted: TimeBreakdown;
  chainKey?: string;
  /** Slots each hop holds, under the coordinator's cache reservation (absent: hopSlots of its span). */
  hopSlots?: readonly number[];
}

/** The leases in force. */
export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  private readonly expired = new Set<string>();
  /** Leases released in this run (so a heartbeat reporting one does not bring it back). */
  private readonly released = new Set<string>();

  constructor(
    readonly leaseMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.leases.size;
  }

  /** Opens a lease for `grant` under a fresh unguessable id; returns it and its record (shared: ending the lease updates it). */
  open(request: RouteRequest, grant: Grant, policy: string, queuedMs: number): { leaseId: string; record: RouteRecord; expiresAtMs: number } {
    const now = this.now();
    const leaseId = CoordinatorKey.newLeaseId();
    const record: RouteRecord = {
      leaseTag: CoordinatorKey.leaseTag(leaseId),
      clientId: request.clientId,
      chain: grant.hops,
      policy,
      promptTokens: request.promptTokens,
      maxNewTokens: request.maxNewTokens,
      predicted: grant.predicted,
      queuedMs,
      grantedAtMs: now,
      outcome: 'active',
    };
    const lease: Lease = { leaseId, record, expiresAtMs: now + this.leaseMs };
    if (grant.chainKey !== undefined) lease.chainKey = grant.chainKey;
    if (grant.hopSlots !== undefined) lease.hopSlots = grant.hopSlots;
    this.leases.set(leaseId, lease);
    return { leaseId, record, expiresAtMs: lease.expiresAtMs };
  }

  /**
   * Books a lease again from its signed grant, as a volunteer reported it running (after a coordinator
   * restart); it lapses `leaseMs` from now unless renewed. Returns its record, or undefined when the
   * lease is known or already ended in this run.
   */
  adopt(grant: LeaseGrant): RouteRecord | undefined {
    if (!this.unknown(grant.leaseId)) return undefined;
    const totalMs = Math.max(0, grant.expectedEndAtMs - grant.grantedAtMs);
    const record: RouteRecord = {
      leaseTag: CoordinatorKey.leaseTag(grant.leaseId),
      clientId: grant.clientId,
      chain: grant.chain,
      policy: 'rebuilt',
      promptTokens: grant.promptTokens,
      maxNewTokens: grant.maxNewTokens,
      predicted: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs },
      queuedMs: 0,
      grantedAtMs: grant.grantedAtMs,
      outcome: 'active',
    };
    this.leases.set(grant.leaseId, { leaseId: grant.leaseId, record, expiresAtMs: this.now() + this.leaseMs });
    return record;
  }

  has(leaseId: string): boolean {
    return this.leases.has(leaseId);
  }

  /** True when `leaseId` is neither active nor ended in this run (a report of it may be adopted). */
  unknown(leaseId: string): boolean {
    return !this.leases.has(leaseId) && !this.expired.has(leaseId) && !this.released.has(leaseId);
  }

  /** Ends a lease; returns its record, or undefined when it is not active. */
  end(leaseId: string, outcome: 'released' | 'expired', measured?: MeasuredTimes): RouteRecord | undefined {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) return undefined;
    this.leases.delete(leaseId);
    lease.record.outcome = outcome;
    lease.record.endedAtMs = this.now();
    if (measured !== undefined) lease.record.measured = measured;
    const ended = outcome === 'expired' ? this.expired : this.released;
    ended.add(leaseId);
    if (ended.size > 10_000) {
      const first = ended.values().next();
      if (first.done !== true) ended.delete(first.value);
    }
    return lease.record;
  }

  /** Extends a lease by `leaseMs`; returns the new expiry (epoch ms). Throws CoordinatorApiError. */
  renew(leaseId: string): number {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw this.error(leaseId);
    lease.expiresAtMs = this.now() + this.leaseMs;
    return lease.expiresAtMs;
  }

  /** Why `leaseId` is not active: it expired, or it never was. */
  error(leaseId: string): CoordinatorApiError {
    return this.expired.has(leaseId)
      ? new CoordinatorApiError('lease-expired', `lease ${CoordinatorKey.leaseTag(leaseId)} expired before it was released or renewed; its slots were freed`)
      : new CoordinatorApiError('unknown-lease', `no active lease ${CoordinatorKey.leaseTag(leaseId)} (never granted, or already released)`);
  }

  /** Ids of the leases past their expiry at `nowMs`. */
  lapsed(nowMs: number): string[] {
    return [...this.leases].filter(([, l]) => l.expiresAtMs <= nowMs).map(([id]) => id);
  }

  /** Active leases with a hop on `peerId`, other than those of client `exceptClientId`. */
  through(peerId: string, exceptClientId?: string): number {
    let n = 0;
    for (const l of this.leases.values()) if (l.record.clientId !== exceptClientId && l.record.chain.some((h) => h.peerId === peerId)) n++;
    return n;
  }

  /** Slots the active leases hold on `peerId`. */
  slotsOn(peerId: string): number {
    let n = 0;
    for (const l of this.leases.values()) l.record.chain.forEach((h, i) => {
      if (h.peerId === peerId) n += slotsOf(l, i);
    });
    return snapWhole(n);
  }

  /** Sessions on each chain of `chainKeys` (JFFC's per-chain count). */
  chainSessions(chainKeys: readonly string[]): number[] {
    return chainKeys.map((k) => {
      let n = 0;
      for (const l of this.leases.values()) if (l.chainKey === k) n += 1;
      return n;
    });
  }

  /** Every lease as a booking: its hops hold slots until the predicted end. */
  *bookings(): Iterable<Booking> {
    for (const l of this.leases.values()) {
      yield { hops: l.record.chain.map((h, i) => ({ serverId: h.peerId, span: h.span, slots: slotsOf(l, i) })), expectedEndMs: l.record.grantedAtMs + l.record.predicted.totalMs };
    }
  }
}

/** Slots hop `i` of a lease holds: as granted, else a whole slot per block. */
function slotsOf(lease: Lease, i: number): number {
  const hop = lease.record.chain[i];
  return lease.hopSlots?.[i] ?? (hop === undefined ? 0 : hopSlots(hop.span));
}

/** A request waiting in the central queue. */
export interface QueueEntry {
  ticketId: string;
  request: RouteRequest;
  enqueuedAtMs: number;
}

interface Ticket {
  entry: QueueEntry;
  /** Last time the client polled (or enqueued), ms. */
  touchedAtMs: number;
  answer?: RouteResponse;
  waiters: Set<(r: RouteResponse) => void>;
}

/** The central FIFO queue and the tickets clients poll it with. */
export class TicketQueue {
  readonly queue = new CentralQueue<QueueEntry>();
  private readonly tickets = new Map<string, Ticket>();

  constructor(
    private readonly ticketTtlMs: number,
    private readonly now: () => number,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  /** Queues a request at the tail and issues its ticket. */
  enqueue(request: RouteRequest): QueueEntry {
    const now = this.now();
    const entry: QueueEntry = { ticketId: randomUUID(), request, enqueuedAtMs: now };
    this.queue.push(entry);
    this.tickets.set(entry.ticketId, { entry, touchedAtMs: now, waiters: new Set() });
    return entry;
  }

  /** The ticket's answer if it has one, else its position; undefined for an unknown ticket. */
  answerOf(ticketId: string): RouteResponse | undefined {
    const t = this.tickets.get(ticketId);
    if (t === undefined) return undefined;
    if (t.answer !== undefined) return t.answer;
    const position = this.queue.indexOf(t.entry) + 1;
    return { kind: 'queued', ticketId, position: Math.max(1, position), queueLength: Math.max(1, this.queue.length) };
  }

  /**
   * Answer for a queue ticket: the route once granted, else the current position. With `waitMs`
   * > 0 it waits up to that long for the route (long poll).
   */
  async poll(ticketId: string, waitMs: number): Promise<RouteResponse> {
    const t = this.tickets.get(ticketId);
    if (t === undefined) {
      return { kind: 'error', error: { code: 'unknown-ticket', message: `no queue ticket '${ticketId}' (never issued, or answered and forgotten)` } };
    }
    t.touchedAtMs = this.now();
    if (t.answer !== undefined || waitMs <= 0) return this.answerOf(ticketId) ?? { kind: 'error', error: { code: 'unknown-ticket', message: 'ticket vanished' } };
    return new Promise<RouteResponse>((resolve) => {
      const timer = setTimeout(() => {
        t.waiters.delete(done);
        t.touchedAtMs = this.now();
        resolve(this.answerOf(ticketId) ?? { kind: 'error', error: { code: 'unknown-ticket', message: 'ticket expired' } });
      }, waitMs);
      const done = (r: RouteResponse): void => {
        clearTimeout(timer);
        resolve(r);
      };
      t.waiters.add(done);
    });
  }

  /** Gives a (dequeued) entry its answer and wakes its long polls. */
  answer(entry: QueueEntry, answer: RouteResponse): void {
    const t = this.tickets.get(entry.ticketId);
    if (t === undefined) return;
    t.answer = answer;
    t.touchedAtMs = this.now();
    for (const w of t.waiters) w(answer);
    t.waiters.clear();
  }

  /** Forgets tickets nobody polled within the TTL (and takes their requests out of the queue); true when the queue changed. */
  sweep(): boolean {
    const now = this.now();
    let changed = false;
    for (const [id, t] of [...this.tickets]) {
      if (now - t.touchedAtMs <= this.ticketTtlMs) continue;
      if (t.waiters.size > 0) continue;
      this.tickets.delete(id);
      if (this.queue.remove(t.entry)) changed = true;
    }
    return changed;
  }

  /** Answers every waiting poll with `answer` and forgets all tickets (shutdown). */
  closeAll(answer: RouteResponse): void {
    for (const t of this.tickets.values()) for (const w of t.waiters) w(answer);
    this.tickets.clear();
  }
}
