// A volunteer's check of the signed lease an open-session carries: the coordinator signed it, for this peer, span and client, not expired.
import { fromBase64url, leaseSigningText, parseLeaseToken, type LeaseGrant } from '../../core/api/index.ts';
import { PeerError } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';

/** Options of a lease checker; durations in ms. */
export interface LeaseCheckOptions {
  /** The coordinator's public key, base64 SPKI (from `registered`). */
  coordinatorKey: string;
  /** This volunteer's peer id (a lease must name it). */
  peerId: string;
  /** Clock, Unix epoch ms (default Date.now). */
  now?: () => number;
  /** Clock difference tolerated between coordinator and volunteer (default 30000). */
  clockSkewMs?: number;
}

/** Checks leases against the coordinator's key. */
export class LeaseChecker {
  private constructor(private readonly key: CryptoKey, private readonly options: LeaseCheckOptions) {}

  static async create(options: LeaseCheckOptions): Promise<LeaseChecker> {
    const spki = Uint8Array.from(atob(options.coordinatorKey), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    return new LeaseChecker(key, options);
  }

  /** Whether `token` is a lease the coordinator signed (any grant): the grant, else null. */
  async verified(token: string): Promise<LeaseGrant | null> {
    const parsed = parseLeaseToken(token);
    if (!parsed.ok) return null;
    const sig = fromBase64url(token.slice(token.indexOf('.') + 1));
    if (sig === null) return null;
    const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, this.key, new Uint8Array(sig), new TextEncoder().encode(leaseSigningText(parsed.value.payload)));
    return ok ? parsed.value.grant : null;
  }

  /**
   * The grant of `token` when it allows `clientPeerId` a session over exactly `span` here; throws
   * PeerError('lease-refused', re = `requestId`) otherwise.
   */
  async check(token: string | undefined, span: BlockSpan, clientPeerId: string, requestId: number): Promise<LeaseGrant> {
    if (token === undefined) throw new PeerError('lease-refused', 'open-session needs the lease the coordinator signed for this route', requestId);
    const grant = await this.verified(token);
    if (grant === null) throw new PeerError('lease-refused', 'the lease is not signed by this volunteer\'s coordinator', requestId);
    const now = (this.options.now ?? Date.now)();
    if (grant.expiresAtMs + (this.options.clockSkewMs ?? 30_000) < now) throw new PeerError('lease-refused', 'the lease has expired; ask for a new route', requestId);
    if (grant.clientId !== clientPeerId) throw new PeerError('lease-refused', 'the lease was granted to another client', requestId);
    const mine = grant.chain.some((h) => h.peerId === this.options.peerId && h.span.start === span.start && h.span.end === span.end);
    if (!mine) throw new PeerError('lease-refused', `the lease does not grant blocks [${span.start}, ${span.end}) on this volunteer`, requestId);
    return grant;
  }
}
