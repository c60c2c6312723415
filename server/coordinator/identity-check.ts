// A volunteer's registration proves its key: the challenge signature, and (by default) that its peer id is the key's.
import { randomBytes } from 'node:crypto';
import { base64url, CoordinatorApiError, registerChallengeText, type RegisterMessage } from '../../core/api/index.ts';
import { p256KeyFromSpki, peerIdOfSpki, spkiFromText, verifySignature } from '../identity/index.ts';

/** A fresh challenge nonce for one volunteer socket (144 random bits, base64url). */
export function challengeNonce(): string {
  return base64url(randomBytes(18));
}

/**
 * Throws CoordinatorApiError('identity-refused') unless `m.publicKey` is an ECDSA P-256 SPKI,
 * `m.signature` is its signature over the challenge `nonce` for `m.peerId`, and (when
 * `keyBoundPeerIds`) `m.peerId` is the id that key is bound to.
 */
export function checkRegistration(m: RegisterMessage, nonce: string, keyBoundPeerIds: boolean): void {
  const spki = spkiFromText(m.publicKey);
  const key = spki === null ? null : p256KeyFromSpki(spki);
  if (spki === null || key === null) throw new CoordinatorApiError('identity-refused', 'publicKey must be the base64 SPKI of an ECDSA P-256 key', 'publicKey');
  if (keyBoundPeerIds && peerIdOfSpki(spki) !== m.peerId) {
    throw new CoordinatorApiError('identity-refused', `peer id '${m.peerId}' is not the one this key is bound to (${peerIdOfSpki(spki)})`, 'peerId');
  }
  if (m.signature === undefined || !verifySignature(key, registerChallengeText(nonce, m.peerId), m.signature)) {
    throw new CoordinatorApiError('identity-refused', 'signature must be this key\'s signature of the challenge this socket got', 'signature');
  }
}

/** Whether two public keys as sent (base64 or base64url SPKI) are the same key. */
export function sameKey(a: string, b: string): boolean {
  const x = spkiFromText(a);
  const y = spkiFromText(b);
  return x !== null && y !== null && Buffer.from(x).equals(Buffer.from(y));
}
