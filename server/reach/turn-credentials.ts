// Short-lived TURN credentials from a shared secret (coturn's use-auth-secret / "TURN REST API" scheme).
import { createHmac } from 'node:crypto';

/** One TURN login: valid until the expiry written into its username. */
export interface TurnCredential {
  /** `<expiry unix s>:<client id>`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  credential: string;
  /** The expiry, Unix epoch ms (whole seconds). */
  expiresAtMs: number;
}

/** Default lifetime of a TURN credential, ms (one hour; pages ask again before it lapses). */
export const defaultTurnCredentialTtlMs = 60 * 60 * 1000;

/**
 * The credential coturn (`use-auth-secret`, `static-auth-secret=<secret>`) accepts for `clientId`
 * until `nowMs + ttlMs`: coturn recomputes the HMAC from the username and refuses it after the expiry,
 * so a page never holds a long-lived password.
 */
export function turnCredential(secret: string, clientId: string, nowMs: number, ttlMs = defaultTurnCredentialTtlMs): TurnCredential {
  const expiresAtS = Math.floor((nowMs + ttlMs) / 1000);
  // A ':' in the id would make the username ambiguous for coturn (it splits at the first one).
  const username = `${expiresAtS}:${clientId.replace(/:/g, '_')}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAtMs: expiresAtS * 1000 };
}
