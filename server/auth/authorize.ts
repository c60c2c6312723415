// Who may do what: credentials read from a request, the actions of the server, and the one authorize() that checks them.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CoordinatorApiError } from '../../core/api/index.ts';

/**
 * What a request wants to do. `read`: swarm state, dashboards, files. `request-route`: ask for,
 * poll, renew or release a route (anyone may; fair use bounds it). `submit-evidence`: report two
 * volunteers' disagreeing signed answers (anyone may: the coordinator bans only what it confirms;
 * rate-limited). `control`: change the swarm (switch the placement policy, and every later admin
 * action). `generate`: have the server's own swarm client generate text (the OpenAI-compatible API,
 * server/openai): an API key, unless the server has none and opens it to anyone
 * ({@link AuthorizerOptions.openToAnyone}).
 */
export const authActions = ['read', 'request-route', 'submit-evidence', 'control', 'generate'] as const;
/** One of {@link authActions}. */
export type AuthAction = (typeof authActions)[number];

/**
 * Who a request proved to be. `api-key`: one of the OpenAI-compatible API's keys; `keyId` names it
 * without revealing it (the first 12 hex digits of its SHA-256), for rate limits and logs.
 */
export type Credentials = { kind: 'anonymous' } | { kind: 'admin' } | { kind: 'api-key'; keyId: string };

/** The part of a request authorization reads (an express or node:http request fits). */
export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Recognises one kind of credential in a request: its credentials, `undefined` when the request
 * carries none of this kind, or a throw (`unauthorized`) when it carries a wrong one.
 */
export type CredentialScheme = (request: AuthRequest) => Credentials | undefined;

// Which credential kinds may do each action.
const allowedKinds: Record<AuthAction, readonly Credentials['kind'][]> = {
  read: ['anonymous', 'admin'],
  'request-route': ['anonymous', 'admin'],
  'submit-evidence': ['anonymous', 'admin'],
  control: ['admin'],
  generate: ['api-key'],
};

/** What an Authorizer allows beyond the table. */
export interface AuthorizerOptions {
  /** Actions anyone may do (anonymous credentials): `generate` on a server with no API keys. */
  openToAnyone?: readonly AuthAction[];
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header, else undefined. */
export function bearerToken(request: AuthRequest): string | undefined {
  const h = request.headers.authorization;
  const value = Array.isArray(h) ? h[0] : h;
  if (value === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(value);
  return m?.[1];
}

/** The admin token as a bearer header: admin credentials, none without a header, `unauthorized` for a wrong token. */
export function adminTokenScheme(adminToken: string): CredentialScheme {
  const expected = digest(adminToken);
  return (request) => {
    if (request.headers.authorization === undefined) return undefined;
    const token = bearerToken(request);
    // Compared as digests: equal length, constant time, so the answer's timing says nothing about the token.
    if (token !== undefined && timingSafeEqual(digest(token), expected)) return { kind: 'admin' };
    throw new CoordinatorApiError('unauthorized', 'the Authorization header does not carry the admin token', 'authorization');
  };
}

/**
 * API keys as bearer headers: `api-key` credentials for a listed key, none without a header, and
 * `unauthorized` for any other bearer (compared as digests, in constant time per key).
 */
export function apiKeyScheme(keys: readonly string[]): CredentialScheme {
  const expected = keys.map((k) => ({ digest: digest(k), keyId: digest(k).toString('hex').slice(0, 12) }));
  return (request) => {
    if (request.headers.authorization === undefined) return undefined;
    const token = bearerToken(request);
    const d = digest(token ?? '');
    let found: string | undefined;
    // Every key is compared, so the answer's timing says nothing about which one (or how many) matched.
    for (const k of expected) if (timingSafeEqual(d, k.digest) && token !== undefined) found = k.keyId;
    if (found !== undefined) return { kind: 'api-key', keyId: found };
    throw new CoordinatorApiError('unauthorized', 'the Authorization header does not carry a valid API key', 'authorization');
  };
}

/** Checks requests against the credential schemes of this server (the admin token; the OpenAI API's keys). */
export class Authorizer {
  private readonly schemes: readonly CredentialScheme[];
  private readonly open: ReadonlySet<AuthAction>;

  constructor(schemes: readonly CredentialScheme[], options: AuthorizerOptions = {}) {
    this.schemes = schemes;
    this.open = new Set(options.openToAnyone ?? []);
  }

  /** The credentials a request carries: the first scheme that recognises it, else anonymous. Throws `unauthorized` for a wrong credential. */
  credentials(request: AuthRequest): Credentials {
    for (const scheme of this.schemes) {
      const c = scheme(request);
      if (c !== undefined) return c;
    }
    return { kind: 'anonymous' };
  }

  /** The request's credentials when they allow `action`; throws CoordinatorApiError `unauthorized` otherwise. */
  authorize(request: AuthRequest, action: AuthAction): Credentials {
    const c = this.credentials(request);
    if (c.kind === 'anonymous' && this.open.has(action)) return c;
    if (!allowedKinds[action].includes(c.kind)) {
      const needs = action === 'generate' ? 'an API key' : 'the admin token';
      throw new CoordinatorApiError('unauthorized', `'${action}' needs ${needs} (Authorization: Bearer <token>)`, 'authorization');
    }
    return c;
  }
}
