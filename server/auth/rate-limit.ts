// Fair use: token buckets per key (a client id, an address), bounded in number, refilled by elapsed time.
import { CoordinatorApiError } from '../../core/api/index.ts';

/** One bucket's size: `burst` tokens, refilled at `perSecond`. */
export interface RateLimit {
  /** Tokens added per second (the sustained rate, requests/s). */
  perSecond: number;
  /** Most tokens held (the largest burst, requests). */
  burst: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * Token buckets keyed by a client or an address. At most `maxKeys` are kept: when full, buckets
 * that refilled completely (idle keys) go first, then the oldest; a forgotten key starts full.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(b: Bucket, nowMs: number): number {
    return Math.min(this.limit.burst, b.tokens + (Math.max(0, nowMs - b.atMs) / 1000) * this.limit.perSecond);
  }

  /** Ms until `key` has a token (0: it has one now); takes nothing. */
  waitMs(key: string): number {
    const nowMs = this.now();
    const b = this.buckets.get(key);
    const tokens = b === undefined ? this.limit.burst : this.refilled(b, nowMs);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.limit.perSecond) * 1000);
  }

  /** Takes one token for `key`: 0 when granted, else the ms until one is there (and nothing is taken). */
  take(key: string): number {
    const nowMs = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.evict(nowMs);
      b = { tokens: this.limit.burst, atMs: nowMs };
      this.buckets.set(key, b);
    }
    b.tokens = this.refilled(b, nowMs);
    b.atMs = nowMs;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.limit.perSecond) * 1000);
  }

  private evict(nowMs: number): void {
    for (const [k, b] of this.buckets) if (this.refilled(b, nowMs) >= this.limit.burst) this.buckets.delete(k);
    // Still full: drop the oldest tenth (Map order is insertion order).
    if (this.buckets.size >= this.maxKeys) {
      let n = Math.ceil(this.maxKeys / 10);
      for (const k of this.buckets.keys()) {
        if (n-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }
}

/**
 * The key of a remote address: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4), IPv6 by its
 * /64 prefix (one host is given a whole /64, so finer keys would let it rotate addresses).
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return '(unknown)';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Fair-use bounds of route requests. */
export interface RouteRateLimits {
  /** Per client id (the request's `clientId`). */
  perClient: RateLimit;
  /** Per remote address (IPv6 by /64): bounds a client that makes up new ids. */
  perAddress: RateLimit;
}

/** Defaults: a client 5 requests/s (burst 20); an address 50/s (burst 100; many tabs may share one NAT). */
export const defaultRouteRateLimits: RouteRateLimits = {
  perClient: { perSecond: 5, burst: 20 },
  perAddress: { perSecond: 50, burst: 100 },
};

/** Rate limits on route requests, by client and by address. */
/**
 * Evidence of a wrong result (POST `apiPaths.verifyEvidence`): each costs the coordinator a
 * recomputation of a whole session prefix, so a client may send 2 a minute (burst 4), an address 12 a
 * minute (burst 20). An honest client needs one per mismatch, and mismatches end in a ban.
 */
export const defaultEvidenceRateLimits: RouteRateLimits = {
  perClient: { perSecond: 2 / 60, burst: 4 },
  perAddress: { perSecond: 12 / 60, burst: 20 },
};

export class RouteRateLimiter {
  private readonly byClient: RateLimiter;
  private readonly byAddress: RateLimiter;

  constructor(limits: RouteRateLimits = defaultRouteRateLimits, now: () => number = Date.now, private readonly what = 'route requests') {
    this.byClient = new RateLimiter(limits.perClient, now);
    this.byAddress = new RateLimiter(limits.perAddress, now);
  }

  /**
   * Takes a token of the address and one of the client, or none: throws CoordinatorApiError
   * `rate-limited` (data: `retryAfterMs`, `scope`) when either bucket is empty.
   */
  take(clientId: string, address: string | undefined): void {
    const a = addressKey(address);
    const waitAddressMs = this.byAddress.waitMs(a);
    if (waitAddressMs > 0) {
      throw new CoordinatorApiError('rate-limited', `too many ${this.what} from ${a}; retry in ${waitAddressMs} ms`, undefined, { retryAfterMs: waitAddressMs, scope: 'address' });
    }
    const waitClientMs = this.byClient.take(clientId);
    if (waitClientMs > 0) {
      throw new CoordinatorApiError('rate-limited', `too many ${this.what} from client '${clientId.slice(0, 64)}'; retry in ${waitClientMs} ms`, undefined, { retryAfterMs: waitClientMs, scope: 'client' });
    }
    this.byAddress.take(a);
  }
}
