// The signaling server's admission rule: a key-bound PeerJS id is admitted only with a token signed by its key.
import { isKeyBoundPeerId, signalingText } from '../../core/api/index.ts';
import { p256KeyFromSpki, peerIdOfSpki, spkiFromText, verifySignature } from './keys.ts';

/** Why a signaling login was refused (null: admitted). */
export type SignalingRefusal = string | null;

/**
 * Checks the `id` and `token` query parameters of a PeerJS signaling login. A key-bound id
 * (`vk-…`, a volunteer's) needs the token `spki.signature` (both base64url): the SPKI must hash to
 * the id and the signature be that key's over `signalingText(id)`. So no one else can take the id
 * while its holder is away, and a stale socket cannot be displaced. Other ids (clients', assigned by
 * the server or chosen at random) are admitted as PeerJS does (first come, same token to reconnect).
 */
export function checkSignalingLogin(query: URLSearchParams): SignalingRefusal {
  const id = query.get('id') ?? '';
  if (!isKeyBoundPeerId(id)) return null;
  const token = query.get('token') ?? '';
  const dot = token.indexOf('.');
  const spki = dot < 0 ? null : spkiFromText(token.slice(0, dot));
  if (spki === null) return 'a key-bound peer id needs the token spki.signature';
  if (peerIdOfSpki(spki) !== id) return 'the token\'s key is not the one this peer id is bound to';
  const key = p256KeyFromSpki(spki);
  if (key === null) return 'the token\'s key is not an ECDSA P-256 key';
  return verifySignature(key, signalingText(id), token.slice(dot + 1)) ? null : 'the token\'s signature does not verify';
}
