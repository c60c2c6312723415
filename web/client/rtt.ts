// Round trips this client measured to volunteers (ping frames over their links): the rttMs a route request reports.
import { apiBounds } from '../../core/api/index.ts';
import type { FrameLink } from '../../core/protocol/index.ts';

/** Most peers a book remembers (the least recently measured is forgotten first); a route request sends at most these. */
export const maxMeasuredPeers = 64;
/** Largest round trip recorded, ms: a slower answer is kept as this, the bound the coordinator clamps to. */
export const maxMeasuredRttMs = apiBounds.maxRttMs;

/** Knobs of an {@link RttBook}. */
export interface RttBookOptions {
  /** Measurements older than this are not reported and are measured again, ms (default 30000). */
  maxAgeMs?: number;
  /** Peers remembered (default {@link maxMeasuredPeers}). */
  maxPeers?: number;
  /** Clock, ms (default performance.now). */
  now?: () => number;
}

interface Sample {
  rttMs: number;
  atMs: number;
}

/** Round trips kept per peer: the report is the least of the fresh ones. */
export const rttSamplesPerPeer = 8;

/**
 * The round trip to each volunteer this client talked to: the least of its last few measurements
 * younger than maxAgeMs, since a ping only ever waits longer than the network (a volunteer busy
 * computing, a stalled event loop), never shorter. Bounded in peers (least recently measured
 * forgotten first), samples per peer and value, so a route request can report them.
 */
export class RttBook {
  private readonly samples = new Map<string, Sample[]>();
  private readonly maxAgeMs: number;
  private readonly maxPeers: number;
  private readonly now: () => number;

  constructor(options: RttBookOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.maxPeers = Math.max(1, options.maxPeers ?? maxMeasuredPeers);
    this.now = options.now ?? (() => performance.now());
  }

  /** Records a round trip to `peerId`, ms (clamped to [0, maxMeasuredRttMs]; a non-finite one is ignored). */
  record(peerId: string, rttMs: number): void {
    if (!Number.isFinite(rttMs)) return;
    const kept = this.samples.get(peerId) ?? [];
    this.samples.delete(peerId); // re-inserted last: Map order is the eviction order
    this.samples.set(peerId, [...kept.slice(1 - rttSamplesPerPeer), { rttMs: Math.min(maxMeasuredRttMs, Math.max(0, rttMs)), atMs: this.now() }]);
    while (this.samples.size > this.maxPeers) {
      const oldest = this.samples.keys().next();
      if (oldest.done === true) break;
      this.samples.delete(oldest.value);
    }
  }

  /** True when `peerId` has no measurement younger than maxAgeMs. */
  isStale(peerId: string): boolean {
    const last = this.samples.get(peerId)?.at(-1);
    return last === undefined || this.now() - last.atMs > this.maxAgeMs;
  }

  /** Per peer, the least of its fresh measurements (younger than maxAgeMs), as a route request's `rttMs`, ms; undefined when there are none. */
  fresh(): Record<string, number> | undefined {
    const now = this.now();
    const out: Record<string, number> = {};
    let any = false;
    for (const [peer, list] of this.samples) {
      const fresh = list.filter((s) => now - s.atMs <= this.maxAgeMs);
      if (fresh.length === 0) continue;
      out[peer] = Math.min(...fresh.map((s) => s.rttMs));
      any = true;
    }
    return any ? out : undefined;
  }
}

/** One round trip over `link` with a ping frame, ms; rejects (the link's PeerError) when no pong comes within `timeoutMs`. */
export async function measureRttMs(link: FrameLink, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await link.request<'ping'>({ type: 'ping', sentAtMs: Date.now() }, timeoutMs);
  return performance.now() - t0;
}
