// Volunteers' public keys on the server: the peer id a key is bound to, and checking a signature made with it (node:crypto, synchronous).
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { fromBase64url, peerIdFromDigest } from '../../core/api/index.ts';

/** Longest SPKI accepted, bytes (a P-256 one is 91). */
const maxSpkiBytes = 512;

/** An ECDSA P-256 public key read from SPKI bytes, or null when the bytes are not one. */
export function p256KeyFromSpki(spki: Uint8Array): KeyObject | null {
  if (spki.byteLength === 0 || spki.byteLength > maxSpkiBytes) return null;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : null;
  } catch {
    return null;
  }
}

/** SPKI bytes of a public key sent as base64 (standard, as the register message has it) or base64url; null when malformed. */
export function spkiFromText(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 1024) return null;
  return fromBase64url(text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
}

/** The key-bound peer id of SPKI bytes (`vk-` + the first 16 bytes of SHA-256, hex). */
export function peerIdOfSpki(spki: Uint8Array): string {
  return peerIdFromDigest(new Uint8Array(createHash('sha256').update(spki).digest()));
}

/**
 * Whether `signature` (base64url, IEEE P1363 r‖s as WebCrypto makes it) is `key`'s ECDSA/SHA-256
 * signature over `text`. Any malformed input is simply false.
 */
export function verifySignature(key: KeyObject, text: string, signature: string): boolean {
  const sig = fromBase64url(signature);
  if (sig === null || sig.byteLength !== 64) return false;
  try {
    return verify('sha256', Buffer.from(text, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}
