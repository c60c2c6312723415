// LinkPool: one FrameLink per volunteer, shared by a client tab's sessions, and the round trips measured over them.
import { FrameLink, type Transport } from '../../core/protocol/index.ts';
import { measureRttMs, RttBook } from './rtt.ts';

/**
 * Opens FrameLinks to peers, one per peer, reused across sessions of a client tab, and measures the
 * round trip to each (a ping when its link opens, again when the measurement is stale): `rtts`.
 */
export class LinkPool {
  private readonly links = new Map<string, Promise<FrameLink>>();
  /** Round trips to the peers of this pool's links, ms (what route requests report as rttMs). */
  readonly rtts: RttBook;
  private readonly pinging = new Set<string>();
  constructor(
    private readonly transport: Transport,
    private readonly connectTimeoutMs = 10_000,
    private readonly requestTimeoutMs = 30_000,
    rtts: RttBook = new RttBook(),
    private readonly pingTimeoutMs = 2000,
  ) {
    this.rtts = rtts;
  }

  get(peerId: string): Promise<FrameLink> {
    const have = this.links.get(peerId);
    if (have !== undefined) return have;
    const p = this.transport.connect(peerId, { timeoutMs: this.connectTimeoutMs }).then((conn) => {
      const link = new FrameLink(conn, { requestTimeoutMs: this.requestTimeoutMs });
      link.onClose(() => {
        if (this.links.get(peerId) === p) this.links.delete(peerId);
      });
      this.ping(peerId, link);
      return link;
    });
    this.links.set(peerId, p);
    p.catch(() => {
      if (this.links.get(peerId) === p) this.links.delete(peerId);
    });
    return p;
  }

  /** Measures again, in the background, the round trip to every peer with an open link whose measurement is stale. */
  refreshRtts(): void {
    for (const [peerId, p] of this.links) {
      if (this.rtts.isStale(peerId)) p.then((link) => this.ping(peerId, link)).catch(() => undefined);
    }
  }

  /** One ping at a time per peer; a peer that does not answer keeps its last measurement (it may be busy computing). */
  private ping(peerId: string, link: FrameLink): void {
    if (this.pinging.has(peerId) || !link.isOpen) return;
    this.pinging.add(peerId);
    measureRttMs(link, this.pingTimeoutMs)
      .then((ms) => this.rtts.record(peerId, ms))
      .catch(() => undefined)
      .finally(() => this.pinging.delete(peerId));
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
