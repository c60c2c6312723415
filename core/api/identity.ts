// Volunteer identities and signed leases as text: key-bound peer ids, the texts that get signed, base64url, the lease token's payload.
// Pure: the signing itself is WebCrypto in a tab (web/volunteer/identity.ts) and node:crypto on the server (server/identity).
import type { RouteHop } from './messages.ts';
import { FieldError, object, str, num, nonNegative, positiveCount, chain, run, type Parsed } from './validate-fields.ts';

/** Prefix of a peer id derived from a public key (`vk-` + 32 hex digits). */
export const keyBoundPeerIdPrefix = 'vk-';
/** Bytes of SHA-256(SPKI) a key-bound peer id keeps (128 bits: no one finds another key with the same id). */
export const peerIdDigestBytes = 16;
/** Longest lease token accepted (a chain of up to 64 hops fits), characters. */
export const maxLeaseTokenLength = 8192;
/** Most signed leases a register or heartbeat may report (a volunteer holds at most this many sessions). */
export const maxReportedSessions = 256;

/** The key-bound peer id of a public key, from SHA-256 of its SPKI bytes (`digest`, 32 bytes). */
export function peerIdFromDigest(digest: Uint8Array): string {
  let hex = '';
  for (const b of digest.subarray(0, peerIdDigestBytes)) hex += b.toString(16).padStart(2, '0');
  return keyBoundPeerIdPrefix + hex;
}

/** True when `peerId` has the form of a key-bound id (then only its key's holder may use it). */
export function isKeyBoundPeerId(peerId: string): boolean {
  return /^vk-[0-9a-f]{32}$/.test(peerId);
}

/** What a volunteer signs to answer the coordinator's challenge `nonce` for `peerId` (a fresh nonce per socket: no replay). */
export function registerChallengeText(nonce: string, peerId: string): string {
  return `bouquet register v1\n${nonce}\n${peerId}`;
}

/** What a volunteer signs to be admitted by the signaling server under `peerId`. */
export function signalingText(peerId: string): string {
  return `bouquet signaling v1\n${peerId}`;
}

/** The domain-separated text the coordinator signs for a lease (`payload` is the token's base64url payload part). */
export function leaseSigningText(payload: string): string {
  return `bouquet lease v1\n${payload}`;
}

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const alphabetIndex = new Map([...alphabet].map((c, i) => [c, i]));

/** Bytes as unpadded base64url (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let k = 0; k < chars; k++) out += alphabet[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** Unpadded base64url back to bytes; null when `text` is not base64url. */
export function fromBase64url(text: string): Uint8Array | null {
  if (text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    const chars = Math.min(4, text.length - i);
    for (let k = 0; k < 4; k++) {
      const v = k < chars ? alphabetIndex.get(text.charAt(i + k)) : 0;
      if (v === undefined) return null;
      n = (n << 6) | v;
    }
    for (let k = 0; k < chars - 1; k++) out[o++] = (n >> (16 - 8 * k)) & 255;
  }
  return out;
}

/**
 * What a signed lease grants: blocks `chain` for client `clientId` under lease `leaseId`. A
 * volunteer opens a session only for a token whose chain names it with exactly the requested span,
 * whose client is the connecting peer and which has not expired.
 */
export interface LeaseGrant {
  leaseId: string;
  clientId: string;
  chain: RouteHop[];
  /** l_in and l_out of the request (a rebuilt booking shows them). */
  promptTokens: number;
  maxNewTokens: number;
  /** When it was granted, Unix epoch ms. */
  grantedAtMs: number;
  /** When the performance model predicts the request ends, Unix epoch ms (bookings rebuilt after a restart hold until then). */
  expectedEndAtMs: number;
  /** Sessions may be opened until then, Unix epoch ms (renewals extend the lease, not the token: sessions open at once). */
  expiresAtMs: number;
}

/** A lease token split: its payload (base64url JSON of a LeaseGrant), the grant read from it, and the signature bytes. */
export interface LeaseTokenParts {
  payload: string;
  grant: LeaseGrant;
  signature: Uint8Array;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** The payload part of a token for `grant`. */
export function leasePayload(grant: LeaseGrant): string {
  return base64url(textEncoder.encode(JSON.stringify(grant)));
}

/** Splits and reads a token `payload.signature`; a `bad-request` when it is malformed (the signature is not checked here). */
export function parseLeaseToken(token: string): Parsed<LeaseTokenParts> {
  return run((): LeaseTokenParts => {
    if (token.length > maxLeaseTokenLength) throw new FieldError('lease', `a lease token is at most ${maxLeaseTokenLength} characters`);
    const dot = token.indexOf('.');
    const payload = dot < 0 ? '' : token.slice(0, dot);
    const signature = dot < 0 ? null : fromBase64url(token.slice(dot + 1));
    const json = fromBase64url(payload);
    if (signature === null || json === null || signature.length === 0) throw new FieldError('lease', 'a lease token is base64url payload.signature');
    let raw: unknown;
    try {
      raw = JSON.parse(textDecoder.decode(json));
    } catch {
      throw new FieldError('lease', 'a lease token payload is JSON');
    }
    const o = object(raw, 'lease');
    const grant: LeaseGrant = {
      leaseId: str(o, 'leaseId', 'lease'),
      clientId: str(o, 'clientId', 'lease'),
      chain: chain(o, 'chain', 'lease'),
      promptTokens: num(o, 'promptTokens', 'lease', positiveCount),
      maxNewTokens: num(o, 'maxNewTokens', 'lease', positiveCount),
      grantedAtMs: num(o, 'grantedAtMs', 'lease', nonNegative),
      expectedEndAtMs: num(o, 'expectedEndAtMs', 'lease', nonNegative),
      expiresAtMs: num(o, 'expiresAtMs', 'lease', nonNegative),
    };
    return { payload, grant, signature };
  });
}
