// The round trips clients reported to each volunteer: one sample per client (its latest), so no client outweighs the others.
import { median } from '../../core/stats/index.ts';

/**
 * RTTs clients reported to each volunteer, ms: the latest per client for the `maxClientsPerPeer`
 * clients that reported most recently. The typical client's RTT to a volunteer is their median, so
 * one client repeating a value counts once (a request's own RTTs route that client only).
 */
export class RttSamples {
  private readonly byPeer = new Map<string, Map<string, number>>();

  constructor(private readonly maxClientsPerPeer = 20) {}

  /** Records `clientId`'s latest RTT to `peerId`, ms (replacing its earlier one). */
  note(peerId: string, clientId: string, rttMs: number): void {
    const clients = this.byPeer.get(peerId) ?? new Map<string, number>();
    clients.delete(clientId); // re-inserted last: Map order is the eviction order
    clients.set(clientId, rttMs);
    while (clients.size > this.maxClientsPerPeer) {
      const oldest = clients.keys().next();
      if (oldest.done === true) break;
      clients.delete(oldest.value);
    }
    this.byPeer.set(peerId, clients);
  }

  /** Forgets a volunteer's samples. */
  forget(peerId: string): void {
    this.byPeer.delete(peerId);
  }

  /** `clientId`'s latest reported RTT to `peerId`, ms, if it is still kept. */
  latestMs(peerId: string, clientId: string): number | undefined {
    return this.byPeer.get(peerId)?.get(clientId);
  }

  /** Every kept sample: each volunteer with its clients' latest RTTs (ms). */
  *[Symbol.iterator](): IterableIterator<[peerId: string, byClient: ReadonlyMap<string, number>]> {
    yield* this.byPeer;
  }

  /** Median over clients of their latest RTT to `peerId`, ms; NaN when none reported. */
  medianMs(peerId: string): number {
    return median([...(this.byPeer.get(peerId)?.values() ?? [])]);
  }
}
