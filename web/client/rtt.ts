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

/**
 * The latest round trip to each volunteer this client talked to, with its age: bounded in count
 * (least recently measured forgotten first) and in value, so a route request can report them.
 */
export class RttBook {
  private readonly samples = new Map<string, Sample>();
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
    this.samples.delete(peerId); // re-inserted last: Map order is the eviction order
    this.samples.set(peerId, { rttMs: Math.min(maxMeasuredRttMs, Math.max(0, rttMs)), atMs: this.now() });
    while (this.samples.size > this.maxPeers) {
      const oldest = this.samples.keys().next();
      if (oldest.done === true) break;
      this.samples.delete(oldest.value);
    }
  }

  /** True when `peerId` has no measurement younger than maxAgeMs. */
  isStale(peerId: string): boolean {
    const s = this.samples.get(peerId);
    return s === undefined || this.now() - s.atMs > this.maxAgeMs;
  }

  /** The fresh measurements (younger than maxAgeMs) as a route request's `rttMs`, ms; undefined when there are none. */
  fresh(): Record<string, number> | undefined {
    const now = this.now();
    const out: Record<string, number> = {};
    let any = false;
    for (const [peer, s] of this.samples) {
      if (now - s.atMs > this.maxAgeMs) continue;
      out[peer] = s.rttMs;
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
