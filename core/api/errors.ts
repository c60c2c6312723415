// Errors of the coordinator API: a machine-readable code on the wire, rebuilt as the same class on the other side.

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
  'not-found',
  'internal',
];

/** An error as it travels: code, one human line, and the offending field for `bad-request`. */
export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  /** Dotted path of the malformed field (`chain.0.span.end`), when one field is to blame. */
  field?: string;
}

/** An error of the coordinator API; thrown on the server, rebuilt on the client with `apiErrorFromWire`. */
export class CoordinatorApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'CoordinatorApiError';
  }

  /** The wire form of this error. */
  toWire(): ApiErrorBody {
    const body: ApiErrorBody = { code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    return body;
  }
}

/** Rebuilds the error class from its wire form (already validated). */
export function apiErrorFromWire(body: ApiErrorBody): CoordinatorApiError {
  return new CoordinatorApiError(body.code, body.message, body.field);
}

/** HTTP status a REST endpoint answers with for each error code. */
export function httpStatusForCode(code: ApiErrorCode): number {
  switch (code) {
    case 'bad-request':
    case 'model-mismatch':
    case 'version-mismatch':
      return 400;
    case 'not-registered':
      return 403;
    case 'unknown-peer':
    case 'unknown-lease':
    case 'unknown-ticket':
    case 'not-found':
      return 404;
    case 'lease-expired':
      return 410;
    case 'no-route':
    case 'infeasible':
      return 503;
    case 'queue-full':
      return 429;
    case 'internal':
      return 500;
    default: {
      const never: never = code;
      return never;
    }
  }
}
