// The round trips clients reported to each volunteer: one sample per client (its recent minimum), so no client outweighs the others.
import { median } from '../../core/stats/index.ts';

/**
 * Reports of one client to one volunteer whose minimum is its RTT there: a ping that met a stalled
 * loop (or a link still warming up) only adds delay, so the least of the last few is the link; a link
 * that really got slower shows after this many reports.
 */
export const rttReportsPerClient = 3;

/**
 * RTTs clients reported to each volunteer, ms: per client the least of its last
 * `rttReportsPerClient` reports, for the `maxClientsPerPeer` clients that reported most recently.
 * The typical client's RTT to a volunteer is the median over clients, so one client repeating a
 * value counts once (a request's own RTTs route that client only).
 */
export class RttSamples {
  private readonly byPeer = new Map<string, Map<string, number>>();
  /** Per peer and client, its recent reports (oldest first), ms. */
  private readonly recent = new Map<string, Map<string, number[]>>();

  constructor(private readonly maxClientsPerPeer = 20) {}

  /** Records `clientId`'s RTT report to `peerId`, ms: its RTT there becomes the least of its recent reports. */
  note(peerId: string, clientId: string, rttMs: number): void {
    const clients = this.byPeer.get(peerId) ?? new Map<string, number>();
    const reports = this.recent.get(peerId) ?? new Map<string, number[]>();
    const mine = [...(reports.get(clientId) ?? []).slice(1 - rttReportsPerClient), rttMs];
    reports.set(clientId, mine);
    this.recent.set(peerId, reports);
    clients.delete(clientId); // re-inserted last: Map order is the eviction order
    clients.set(clientId, Math.min(...mine));
    while (clients.size > this.maxClientsPerPeer) {
      const oldest = clients.keys().next();
      if (oldest.done === true) break;
      clients.delete(oldest.value);
      reports.delete(oldest.value);
    }
    this.byPeer.set(peerId, clients);
  }

  /** Forgets a volunteer's samples. */
  forget(peerId: string): void {
    this.byPeer.delete(peerId);
    this.recent.delete(peerId);
  }

  /** `clientId`'s RTT to `peerId` (the least of its recent reports), ms, if it is still kept. */
  latestMs(peerId: string, clientId: string): number | undefined {
    return this.byPeer.get(peerId)?.get(clientId);
  }

  /** Every kept sample: each volunteer with its clients' RTTs (ms). */
  *[Symbol.iterator](): IterableIterator<[peerId: string, byClient: ReadonlyMap<string, number>]> {
    yield* this.byPeer;
  }

  /** Median over clients of their RTT to `peerId`, ms; NaN when none reported. */
  medianMs(peerId: string): number {
    return median([...(this.byPeer.get(peerId)?.values() ?? [])]);
  }
}
