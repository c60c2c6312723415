// Peer protocol errors: a code the program acts on and a message the user reads, rebuilt alike on both sides.

/**
 * What went wrong between peers, as a machine-readable code. Tests and the client's failover logic
 * act on the code, never on the text.
 */
export type PeerErrorCode =
  /** The frame could not be parsed or broke a rule (sizes, dtype, non-finite values, shape). */
  | 'bad-frame'
  /** A frame or a reassembled message is larger than the receiver accepts. */
  | 'oversize'
  /** Too many partially received messages at once. */
  | 'too-many-pending'
  /** The session id is not open on this peer (for this connection). */
  | 'unknown-session'
  /** The peer has no free attention-cache slots for the session; retry elsewhere. */
  | 'cache-full'
  /** The session would be longer than its declared maximum or than the model supports. */
  | 'sequence-too-long'
  /** A step arrived with a step index or position the session did not expect. */
  | 'out-of-order'
  /** The peer does not serve (all of) the requested blocks. */
  | 'wrong-span'
  /** The peer is draining before a reassignment and admits no new sessions. */
  | 'draining'
  /** The peer left, the connection closed or could not be opened. */
  | 'peer-unavailable'
  /** No answer in time. */
  | 'timeout'
  /** No route could be found for (part of) the chain. */
  | 'no-route'
  /** The other side speaks another protocol version (`protocolVersion`); upgrade the older one. */
  | 'version-mismatch'
  /** The peer failed while computing; the message says why. */
  | 'internal';

/** Every code, for validating a code that arrives on the wire. */
export const peerErrorCodes: readonly PeerErrorCode[] = [
  'bad-frame', 'oversize', 'too-many-pending', 'unknown-session', 'cache-full', 'sequence-too-long',
  'out-of-order', 'wrong-span', 'draining', 'peer-unavailable', 'timeout', 'no-route', 'version-mismatch', 'internal',
];

/** True when `code` is one of the protocol's error codes. */
export function isPeerErrorCode(code: string): code is PeerErrorCode {
  return (peerErrorCodes as readonly string[]).includes(code);
}

/**
 * An error of the peer protocol. Sent on the wire as an `error` frame and rebuilt as the same
 * class (same code and message) on the receiving side.
 */
export class PeerError extends Error {
  constructor(
    readonly code: PeerErrorCode,
    message: string,
    /** Id of the request this error answers, when known (0 when it is not). */
    readonly re = 0,
    /** Peer id of the remote side the error came from or concerns, when known. */
    readonly peerId?: string,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

/** Wraps any thrown value as a PeerError, keeping a PeerError's code and an object's `code` when valid. */
export function toPeerError(err: unknown, fallback: PeerErrorCode = 'internal'): PeerError {
  if (err instanceof PeerError) return err;
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    const message = (err as { message?: unknown }).message;
    const text = typeof message === 'string' ? message : JSON.stringify(err);
    if (typeof code === 'string' && isPeerErrorCode(code)) return new PeerError(code, text);
    return new PeerError(fallback, text);
  }
  return new PeerError(fallback, String(err));
}
