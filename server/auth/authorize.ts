// Who may do what: credentials read from a request, the actions of the server, and the one authorize() that checks them.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CoordinatorApiError } from '../../core/api/index.ts';

/**
 * What a request wants to do. `read`: swarm state, dashboards, files. `request-route`: ask for,
 * poll, renew or release a route (anyone may; fair use bounds it). `submit-evidence`: report two
 * volunteers' disagreeing signed answers (anyone may: the coordinator bans only what it confirms;
 * rate-limited). `control`: change the swarm
 * (switch the placement policy, and every later admin action).
 */
export const authActions = ['read', 'request-route', 'submit-evidence', 'control'] as const;
/** One of {@link authActions}. */
export type AuthAction = (typeof authActions)[number];

/**
 * Who a request proved to be. Later schemes add kinds here (an OpenAI-style endpoint's API key:
 * `{kind: 'api-key', keyId}`) and a {@link CredentialScheme} that recognises them.
 */
export type Credentials = { kind: 'anonymous' } | { kind: 'admin' };

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
};

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

/** Checks requests against the credential schemes of this server (today: the admin token). */
export class Authorizer {
  private readonly schemes: readonly CredentialScheme[];

  constructor(schemes: readonly CredentialScheme[]) {
    this.schemes = schemes;
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
    if (!allowedKinds[action].includes(c.kind)) {
      throw new CoordinatorApiError('unauthorized', `'${action}' needs the admin token (Authorization: Bearer <token>)`, 'authorization');
    }
    return c;
  }
}
