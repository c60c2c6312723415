// Peer protocol errors: a code the program acts on and a message the user reads, rebuilt alike on both sides.
import { BouquetError, registerErrorKind, type ErrorCode, type ErrorData } from '../errors/index.ts';

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
  /** The session was not opened with a lease the coordinator signed for this peer, span and client. */
  | 'lease-refused'
  /** The remote peer holds as many connections or sessions here as one peer may. */
  | 'peer-limit'
  /** The peer failed while computing; the message says why. */
  | 'internal';

/** Every code, for validating a code that arrives on the wire. */
export const peerErrorCodes: readonly PeerErrorCode[] = [
  'bad-frame', 'oversize', 'too-many-pending', 'unknown-session', 'cache-full', 'sequence-too-long',
  'out-of-order', 'wrong-span', 'draining', 'peer-unavailable', 'timeout', 'no-route', 'version-mismatch',
  'lease-refused', 'peer-limit', 'internal',
];

/** True when `code` is one of the protocol's error codes. */
export function isPeerErrorCode(code: string): code is PeerErrorCode {
  return (peerErrorCodes as readonly string[]).includes(code);
}

/**
 * An error of the peer protocol. Sent on the wire as an `error` frame and rebuilt as the same
 * class (same code, message and data) on the receiving side. Any {@link ErrorCode} may travel (a
 * runtime's `cache-full` stays `cache-full`); `PeerErrorCode` lists the ones the protocol raises itself.
 */
export class PeerError extends BouquetError {
  constructor(
    code: ErrorCode,
    message: string,
    /** Id of the request this error answers, when known (0 when it is not). */
    re = 0,
    /** Peer id of the remote side the error came from or concerns, when known. */
    peerId?: string,
    data?: ErrorData,
  ) {
    super(code, message, { ...data, re, ...(peerId !== undefined ? { peerId } : {}) });
  }

  /** Id of the request this error answers (0 when unknown). */
  get re(): number {
    const re = this.data?.re;
    return typeof re === 'number' ? re : 0;
  }

  /** Peer id of the remote side the error came from or concerns, when known. */
  get peerId(): string | undefined {
    const id = this.data?.peerId;
    return typeof id === 'string' ? id : undefined;
  }
}
registerErrorKind('PeerError', PeerError);

/**
 * Wraps any thrown value as a PeerError: a PeerError as is, another BouquetError with its code and
 * data (never remapped), anything else with `fallback`.
 */
export function toPeerError(err: unknown, fallback: ErrorCode = 'internal'): PeerError {
  if (err instanceof PeerError) return err;
  if (err instanceof BouquetError) {
    const b: BouquetError = err as BouquetError;
    return new PeerError(b.code, b.message, 0, undefined, b.data);
  }
  if (err instanceof Error) return new PeerError(fallback, err.message);
  return new PeerError(fallback, String(err));
}
