// What a browser may send: JSON bodies only (no form posts), and only from this server's own origin.
import { CoordinatorApiError } from '../../core/api/index.ts';
import type { AuthRequest } from './authorize.ts';

/** A request as the guard reads it: method, headers, and whether it arrived over TLS. */
export interface GuardedRequest extends AuthRequest {
  method?: string;
  /** True for https (the origin's scheme). */
  encrypted?: boolean;
}

function header(request: AuthRequest, name: string): string | undefined {
  const h = request.headers[name];
  return Array.isArray(h) ? h[0] : h;
}

/**
 * Refuses a request a browser sent from another site: `Sec-Fetch-Site` other than `same-origin` or
 * `none`, or an `Origin` that is neither this server's own (scheme + Host) nor in `allowedOrigins`.
 * Requests with neither header (curl, Node tools, volunteers in Node) pass: only a browser can be
 * tricked into sending a request for someone else. Throws CoordinatorApiError `forbidden-origin`.
 */
export function checkOrigin(request: GuardedRequest, allowedOrigins: readonly string[] = []): void {
  const origin = header(request, 'origin');
  if (origin !== undefined) {
    const host = header(request, 'host');
    const own = host === undefined ? undefined : `${request.encrypted === true ? 'https' : 'http'}://${host}`;
    if (origin.toLowerCase() === own?.toLowerCase() || allowedOrigins.includes(origin)) return;
    throw new CoordinatorApiError('forbidden-origin', `requests from ${origin.slice(0, 100)} are refused (cross-site)`, 'origin');
  }
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new CoordinatorApiError('forbidden-origin', `a ${site.slice(0, 20)} request is refused`, 'sec-fetch-site');
  }
}

/** True when the request carries a body (a length above 0, or chunked). */
export function hasBody(request: AuthRequest): boolean {
  const length = header(request, 'content-length');
  if (length !== undefined) return Number(length) > 0;
  return header(request, 'transfer-encoding') !== undefined;
}

/**
 * Refuses a body that is not `application/json` (a form's `text/plain` or urlencoded body is how a
 * cross-site page posts without a CORS preflight). No body is fine. Throws `unsupported-media-type`.
 */
export function checkJsonBody(request: AuthRequest): void {
  if (!hasBody(request)) return;
  const type = header(request, 'content-type');
  const essence = type?.split(';')[0]?.trim().toLowerCase();
  if (essence !== 'application/json') {
    throw new CoordinatorApiError('unsupported-media-type', `send bodies as application/json (got ${type === undefined ? 'no content type' : type.slice(0, 60)})`, 'content-type');
  }
}
