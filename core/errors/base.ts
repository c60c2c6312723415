// The base class every Bouquet error extends: a code programs act on, a message people read, plain data.
import type { ErrorCode } from './codes.ts';

/** Plain, JSON-safe details of an error (the offending `field`, a `peerId`, a request id `re`…). */
export type ErrorData = Readonly<Record<string, string | number | boolean | null>>;

/**
 * An error with a stable `code`. Subclasses name the part it comes from (`PeerError`,
 * `RuntimeError`…) and are rebuilt as the same class on the other side of a boundary by
 * `errorFromWire`.
 */
export class BouquetError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly data: ErrorData | undefined;
  constructor(code: C, message: string, data?: ErrorData) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

/** True for a BouquetError (of any subclass), optionally with the given code. */
export function isBouquetError(e: unknown, code?: ErrorCode): e is BouquetError {
  return e instanceof BouquetError && (code === undefined || e.code === code);
}
