// The ICE servers `bouquet serve` hands every page and peer: STUN as configured, TURN with per-client short-lived credentials.
import { isIceUrl, isTurnUrl, maxIceServers, type IceServer, type IceServersAnswer } from '../../core/api/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { turnCredential, defaultTurnCredentialTtlMs } from './turn-credentials.ts';

/** What the operator configured (`--ice-servers`, `--turn-secret`, `--turn-ttl-ms`). */
export interface IceConfig {
  /** stun:/stuns: URLs, handed out as they are. */
  stunUrls: string[];
  /** turn:/turns: URLs, handed out with a credential derived from `turnSecret`. */
  turnUrls: string[];
  /** coturn's `static-auth-secret`. Required when there are TURN URLs. */
  turnSecret?: string;
  /** Lifetime of each credential, ms (default one hour). */
  turnTtlMs?: number;
}

/**
 * Parses `--ice-servers` (comma- or space-separated stun:/turn: URLs). Refuses, with code
 * 'bad-argument', a URL that is not one, credentials inside a URL (a long-lived password would reach
 * every page) and TURN URLs without `turnSecret`.
 */
export function parseIceConfig(list: string, turnSecret?: string, turnTtlMs?: number): IceConfig {
  const urls = list.split(/[\s,]+/).filter((u) => u !== '');
  if (urls.length > maxIceServers) throw new BouquetError('bad-argument', `--ice-servers takes at most ${maxIceServers} URLs (got ${urls.length})`, { field: 'ice-servers' });
  for (const u of urls) {
    if (!isIceUrl(u)) throw new BouquetError('bad-argument', `--ice-servers: '${u.slice(0, 80)}' is not a stun:, stuns:, turn: or turns: URL`, { field: 'ice-servers' });
    if (u.includes('@')) throw new BouquetError('bad-argument', `--ice-servers: '${u.slice(0, 80)}' carries credentials; give TURN a shared secret with --turn-secret instead`, { field: 'ice-servers' });
  }
  const turnUrls = urls.filter(isTurnUrl);
  if (turnUrls.length > 0 && (turnSecret === undefined || turnSecret === '')) {
    throw new BouquetError('bad-argument', 'TURN URLs need --turn-secret (the static-auth-secret of coturn\'s use-auth-secret)', { field: 'turn-secret' });
  }
  return {
    stunUrls: urls.filter((u) => !isTurnUrl(u)),
    turnUrls,
    ...(turnSecret !== undefined && turnSecret !== '' ? { turnSecret } : {}),
    ...(turnTtlMs !== undefined ? { turnTtlMs } : {}),
  };
}

/**
 * The answer for one client. `turnAllowed` is the gate: false (the client is not identified, or over
 * its rate limit — the server's auth module decides) leaves TURN out and hands out STUN only.
 */
export function iceServersFor(config: IceConfig | undefined, clientId: string, nowMs: number, turnAllowed: boolean): IceServersAnswer {
  if (config === undefined) return { kind: 'ice-servers', iceServers: [], expiresAtMs: null };
  const iceServers: IceServer[] = [];
  if (config.stunUrls.length > 0) iceServers.push({ urls: config.stunUrls });
  let expiresAtMs: number | null = null;
  if (turnAllowed && config.turnUrls.length > 0 && config.turnSecret !== undefined) {
    const c = turnCredential(config.turnSecret, clientId, nowMs, config.turnTtlMs ?? defaultTurnCredentialTtlMs);
    iceServers.push({ urls: config.turnUrls, username: c.username, credential: c.credential });
    expiresAtMs = c.expiresAtMs;
  }
  return { kind: 'ice-servers', iceServers, expiresAtMs };
}
