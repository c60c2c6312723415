// Errors of the coordinator API: a machine-readable code on the wire, rebuilt as the same class on the other side.
import { BouquetError, errorFromWire, errorToWire, registerErrorKind, type ErrorCode, type ErrorData } from '../errors/index.ts';

/**
 * What went wrong, for programs (tests assert codes, not text):
 * - `bad-request`: a message or body is malformed; `field` names the offending field.
 * - `not-registered`: a volunteer sent something other than `register` first.
 * - `model-mismatch`: a volunteer or client asked for a model this coordinator does not serve.
 * - `version-mismatch`: a volunteer registered with another `protocolVersion` than this coordinator's.
 * - `unknown-peer`: a peer id the registry does not know (or no longer knows).
 * - `unknown-lease`: a lease id that was never granted or was already released.
 * - `lease-expired`: the lease timed out before it was released or renewed; its slots were freed.
 * - `unknown-ticket`: a queue ticket that was never issued, or was already answered and forgotten.
 * - `no-route`: no chain of serving volunteers covers the requested blocks (even waiting would not help).
 * - `infeasible`: the placement policy cannot place the model on the volunteers present.
 * - `queue-full`: the central queue is at its limit; retry later.
 * - `unauthorized`: a control action without the admin token (bearer header) or with a wrong one.
 * - `forbidden-origin`: a browser request from another site (Origin / Sec-Fetch-Site).
 * - `unsupported-media-type`: a body that is not `application/json`.
 * - `rate-limited`: this client or address sent route requests faster than its token bucket refills; `data.retryAfterMs`.
 * - `over-quota`: this client or address already holds its most leases or queue entries.
 * - `too-many-connections`: the server holds its most dashboard sockets.
 * - `slow-reader`: a dashboard socket that did not read its events was dropped.
 * - `identity-refused`: a registration (or signaling login) did not prove the key its peer id is bound to.
 * - `lease-refused`: a release or renewal without the lease's secret, or a session without a lease the coordinator signed.
 * - `not-found`: no such endpoint or file.
 * - `internal`: a bug in the coordinator; the message says what failed.
 */
export type ApiErrorCode =
  | 'bad-request'
  | 'not-registered'
  | 'model-mismatch'
  | 'version-mismatch'
  | 'unknown-peer'
  | 'unknown-lease'
  | 'lease-expired'
  | 'unknown-ticket'
  | 'no-route'
  | 'infeasible'
  | 'queue-full'
  | 'identity-refused'
  | 'lease-refused'
  | 'not-found'
  | 'internal';

/** Every code, for validation of errors read from the wire. */
export const apiErrorCodes: readonly ApiErrorCode[] = [
  'bad-request',
  'not-registered',
  'model-mismatch',
  'version-mismatch',
  'unknown-peer',
  'unknown-lease',
  'lease-expired',
  'unknown-ticket',
  'no-route',
  'infeasible',
  'queue-full',
  'identity-refused',
  'lease-refused',
  'not-found',
  'internal',
];

/**
 * An error as it travels: code, one human line, and the offending field for `bad-request`; `kind`
 * (the class thrown) and `data` let the other side rebuild the same class. Any {@link ErrorCode}
 * may travel (an `infeasible` from a policy, a `model-mismatch`…), never remapped.
 */
export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
  /** Dotted path of the malformed field (`chain.0.span.end`), when one field is to blame. */
  field?: string;
  /** Class the error was thrown as; absent means CoordinatorApiError. */
  kind?: string;
  /** The error's plain data (flat, bounded). */
  data?: ErrorData;
}

/** An error of the coordinator API; thrown on the server, rebuilt on the client with `apiErrorFromWire`. */
export class CoordinatorApiError extends BouquetError {
  constructor(code: ErrorCode, message: string, field?: string, data?: ErrorData) {
    super(code, message, field !== undefined ? { ...data, field } : data);
  }

  /** Dotted path of the malformed field, when one field is to blame. */
  get field(): string | undefined {
    const f = this.data?.field;
    return typeof f === 'string' ? f : undefined;
  }

  /** The wire form of this error. */
  toWire(): ApiErrorBody {
    return apiErrorBody(this);
  }
}
registerErrorKind('CoordinatorApiError', CoordinatorApiError);

/** The wire form of any thrown value: a BouquetError keeps class, code and data (and `field`); anything else is `internal`. */
export function apiErrorBody(e: unknown): ApiErrorBody {
  const w = errorToWire(e);
  const body: ApiErrorBody = { code: w.code, message: w.message };
  const field = w.data?.field;
  if (typeof field === 'string') body.field = field;
  if (w.kind !== 'CoordinatorApiError') body.kind = w.kind;
  if (w.data !== undefined) body.data = w.data;
  return body;
}

/** Rebuilds the class the error was thrown as (CoordinatorApiError unless `kind` says another registered one). */
export function apiErrorFromWire(body: ApiErrorBody): BouquetError {
  const data = body.field !== undefined ? { ...body.data, field: body.field } : body.data;
  if (body.kind === undefined || body.kind === 'CoordinatorApiError') return new CoordinatorApiError(body.code, body.message, undefined, data);
  return errorFromWire({ kind: body.kind, code: body.code, message: body.message, ...(data !== undefined ? { data } : {}) });
}

// HTTP status of each code: the API's own ones as documented; every other code by its nature.
const httpStatusByCode: Record<ErrorCode, number> = {
  'bad-request': 400, 'bad-frame': 400, 'bad-input': 400, 'bad-model': 400, 'bad-model-config': 400, 'bad-weights': 400,
  'bad-scenario': 400, 'bad-snapshot': 400, 'bad-argument': 400, 'bad-response': 502, oversize: 413, 'too-many-pending': 429, 'version-mismatch': 400,
  'cache-full': 503, 'sequence-too-long': 400, 'unknown-session': 404, 'session-exists': 409, 'out-of-order': 409, 'wrong-span': 400,
  draining: 503, 'not-registered': 403, 'model-mismatch': 400, 'unknown-peer': 404, 'unknown-lease': 404, 'lease-expired': 410,
  'unknown-ticket': 404, 'no-route': 503, 'queue-full': 429, 'peer-unavailable': 503, timeout: 504, aborted: 499,
  infeasible: 503, 'no-solution': 503, 'unknown-policy': 400, 'placement-timeout': 503,
  unauthorized: 401, 'forbidden-origin': 403, 'unsupported-media-type': 415, 'rate-limited': 429, 'over-quota': 429,
  'too-many-connections': 503, 'slow-reader': 408,
  'identity-refused': 403, 'lease-refused': 403, 'peer-limit': 429,
  'backend-unavailable': 503, 'not-loaded': 503, offline: 503, 'not-found': 404, closed: 503, 'bad-certificate': 500, internal: 500,
};

/** HTTP status a REST endpoint answers with for each error code. */
export function httpStatusForCode(code: ErrorCode): number {
  return httpStatusByCode[code];
}
