// In-memory Transport: peers in one process, ordered delivery, optional per-pair delay (benchmarks, the simulator).
import { PeerError } from './errors.ts';
import { dataChannelMaxMessageBytes } from './chunking.ts';
import { PacketInbox } from './inbox.ts';
import type { ConnectOptions, PeerConnection, Transport } from './transport.ts';

/** Options of a MemoryNetwork. */
export interface MemoryNetworkOptions {
  /** One-way delay from peer `from` to peer `to`, ms (half the emulated RTT). Default: none. */
  delayMs?: (from: string, to: string) => number;
  /** Largest packet, bytes (default: Chromium's data-channel limit). */
  maxMessageBytes?: number;
}

type Deliver = () => void;

/** A set of in-memory peers that can dial each other by id. */
export class MemoryNetwork {
  private readonly peers = new Map<string, MemoryTransport>();
  readonly maxMessageBytes: number;
  private readonly delayFn: (from: string, to: string) => number;

  constructor(options: MemoryNetworkOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? dataChannelMaxMessageBytes;
    this.delayFn = options.delayMs ?? (() => 0);
  }

  /** Creates (and registers) the endpoint of peer `peerId`. */
  createTransport(peerId: string): MemoryTransport {
    if (this.peers.has(peerId)) throw new PeerError('bad-frame', `peer id '${peerId}' is taken`);
    const t = new MemoryTransport(peerId, this);
    this.peers.set(peerId, t);
    return t;
  }

  /** @internal */
  lookup(peerId: string): MemoryTransport | undefined {
    return this.peers.get(peerId);
  }

  /** @internal */
  remove(peerId: string): void {
    this.peers.delete(peerId);
  }

  /** One-way delay between two peers, ms. */
  delay(from: string, to: string): number {
    return Math.max(0, this.delayFn(from, to));
  }
}

/**
 * Schedules deliveries in one direction in order, each at its own delay. Timers fire late (Node: about a
 * millisecond per setTimeout, more on a loaded machine), which over six deliveries a token made a 10 ms
 * emulated RTT cost 11.5 ms; so the lane learns how late its timers fire and arms them that much earlier.
 * Deliveries wait in one FIFO and leave in order, so a changed correction never reorders them.
 */
class Lane {
  private lastAtMs = 0;
  /** How much earlier than the due time timers are armed, ms (a running estimate of their lateness). */
  private earlyMs = 0;
  private readonly queue: { atMs: number; fn: Deliver }[] = [];
  private armedFor = Infinity;
  constructor(private readonly delayMs: () => number) {}

  schedule(fn: Deliver): void {
    const d = this.delayMs();
    const now = performance.now();
    if (d <= 0 && this.queue.length === 0) {
      queueMicrotask(fn);
      return;
    }
    const at = Math.max(now + d, this.lastAtMs);
    this.lastAtMs = at;
    this.queue.push({ atMs: at, fn });
    this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (head === undefined || head.atMs >= this.armedFor) return;
    this.armedFor = head.atMs;
    const target = head.atMs;
    setTimeout(() => this.fire(target), Math.max(0, target - this.earlyMs - performance.now()));
  }

  private fire(target: number): void {
    const now = performance.now();
    // Lateness of this timer against its due time feeds the correction (bounded: a stalled loop must not make it huge).
    this.earlyMs = Math.min(4, Math.max(0, this.earlyMs + 0.25 * (now - target)));
    if (this.armedFor === target) this.armedFor = Infinity;
    // Deliver what is due, within the correction (timers are never exact; early by < earlyMs on average cancels late).
    while (this.queue.length > 0 && (this.queue[0]?.atMs ?? Infinity) <= now + this.earlyMs) this.queue.shift()?.fn();
    this.arm();
  }
}

class MemoryConnection implements PeerConnection {
  other: MemoryConnection | undefined;
  private open = true;
  private readonly inbox = new PacketInbox();
  private readonly closeHandlers = new Set<(reason: string) => void>();
  private readonly lane: Lane;

  constructor(
    readonly localPeerId: string,
    readonly remotePeerId: string,
    readonly maxMessageBytes: number,
    network: MemoryNetwork,
    private readonly owner: MemoryTransport,
  ) {
    this.lane = new Lane(() => network.delay(localPeerId, remotePeerId));
  }

  get isOpen(): boolean {
    return this.open;
  }

  send(packet: ArrayBuffer): Promise<void> {
    if (!this.open || this.other === undefined) {
      return Promise.reject(new PeerError('peer-unavailable', `connection to ${this.remotePeerId} is closed`, 0, this.remotePeerId));
    }
    if (packet.byteLength > this.maxMessageBytes) {
      return Promise.reject(new PeerError('oversize', `packet of ${packet.byteLength} bytes exceeds ${this.maxMessageBytes}`));
    }
    const copy = packet.slice(0);
    const target = this.other;
    this.lane.schedule(() => target.receive(copy));
    return Promise.resolve();
  }

  /** @internal */
  receive(packet: ArrayBuffer): void {
    if (!this.open) return;
    this.inbox.deliver(packet);
  }

  onMessage(handler: (packet: ArrayBuffer) => void): () => void {
    return this.inbox.subscribe(handler);
  }

  onClose(handler: (reason: string) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  close(): void {
    this.shut('closed locally');
    const other = this.other;
    if (other !== undefined) this.lane.schedule(() => other.shut(`closed by ${this.localPeerId}`));
  }

  /** @internal */
  shut(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.owner.forget(this);
    const handlers = [...this.closeHandlers];
    this.closeHandlers.clear();
    for (const h of handlers) h(reason);
  }
}

/** One peer's endpoint on a MemoryNetwork. */
export class MemoryTransport implements Transport {
  private readonly connectionHandlers = new Set<(c: PeerConnection) => void>();
  private readonly connections = new Set<MemoryConnection>();
  private closed = false;

  constructor(readonly peerId: string, private readonly network: MemoryNetwork) {}

  connect(remotePeerId: string, options: ConnectOptions = {}): Promise<PeerConnection> {
    const remote = this.network.lookup(remotePeerId);
    if (this.closed) return Promise.reject(new PeerError('peer-unavailable', `transport of ${this.peerId} is closed`));
    if (remote === undefined || remote.closed) {
      return Promise.reject(new PeerError('peer-unavailable', `peer ${remotePeerId} is not on the network`, 0, remotePeerId));
    }
    const rttMs = this.network.delay(this.peerId, remotePeerId) + this.network.delay(remotePeerId, this.peerId);
    if (options.timeoutMs !== undefined && rttMs > options.timeoutMs) {
      return new Promise((_, reject) => {
        setTimeout(() => reject(new PeerError('timeout', `connecting to ${remotePeerId} took over ${options.timeoutMs} ms`, 0, remotePeerId)), options.timeoutMs);
      });
    }
    const max = this.network.maxMessageBytes;
    const local = new MemoryConnection(this.peerId, remotePeerId, max, this.network, this);
    const far = new MemoryConnection(remotePeerId, this.peerId, max, this.network, remote);
    local.other = far;
    far.other = local;
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        if (remote.closed || this.closed) {
          reject(new PeerError('peer-unavailable', `peer ${remotePeerId} left while connecting`, 0, remotePeerId));
          return;
        }
        this.connections.add(local);
        remote.accept(far);
        resolve(local);
      };
      if (rttMs > 0) setTimeout(finish, rttMs);
      else queueMicrotask(finish);
    });
  }

  /** @internal */
  accept(conn: MemoryConnection): void {
    this.connections.add(conn);
    for (const h of this.connectionHandlers) h(conn);
  }

  /** @internal */
  forget(conn: MemoryConnection): void {
    this.connections.delete(conn);
  }

  onConnection(handler: (conn: PeerConnection) => void): () => void {
    this.connectionHandlers.add(handler);
    return () => this.connectionHandlers.delete(handler);
  }

  /** Open connections, for tests and status displays. */
  get connectionCount(): number {
    return this.connections.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.connections]) c.close();
    this.network.remove(this.peerId);
  }
}
