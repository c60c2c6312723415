// Every error code of Bouquet, in one list: what programs (and tests) switch on, never the text.

/**
 * Every code an error may carry across a boundary. Grouped by where it usually arises; a code means
 * the same thing wherever it appears, and is never remapped on the way.
 */
export const errorCodes = [
  // input from a peer, a page, a file or a user
  'bad-request', 'bad-frame', 'bad-input', 'bad-model', 'bad-model-config', 'bad-weights', 'bad-scenario', 'bad-snapshot', 'bad-argument',
  'oversize', 'too-many-pending', 'version-mismatch',
  'bad-response', // an answer of the coordinator that is not JSON or not the expected shape
  // sessions and caches
  'cache-full', 'sequence-too-long', 'unknown-session', 'session-exists', 'out-of-order', 'wrong-span', 'draining',
  // the swarm
  'not-registered', 'model-mismatch', 'unknown-peer', 'unknown-lease', 'lease-expired', 'unknown-ticket', 'no-route',
  'queue-full', 'peer-unavailable', 'timeout', 'aborted',
  // identities and leases (docs/security.md)
  'identity-refused', 'lease-refused', 'peer-limit',
  // placement and policies
  'infeasible', 'no-solution', 'unknown-policy', 'placement-timeout',
  // authorization and fair use (server/auth)
  'unauthorized', 'forbidden-origin', 'unsupported-media-type', 'rate-limited', 'over-quota', 'too-many-connections', 'slow-reader',
  // runtime and environment
  'backend-unavailable', 'not-loaded', 'offline', 'not-found', 'closed',
  'bad-certificate', // a TLS certificate or key `serve` was given (or made) that it cannot use: data.problem says why
  // a bug: the message says what failed
  'internal',
] as const;

/** A code from {@link errorCodes}. */
export type ErrorCode = (typeof errorCodes)[number];

/** True when `code` is one of {@link errorCodes} (for codes read from the wire). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (errorCodes as readonly string[]).includes(code);
}
