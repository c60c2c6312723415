// Errors of the block runtime: one class with a machine-readable code, rebuilt as the same class across Comlink.
import { BouquetError, errorFromWire, errorToWire, parseWireError, registerErrorKind, type WireError } from '../core/errors/index.ts';

/** The codes the block runtime raises, in words a caller can switch on (all from the one list, core/errors). */
export type RuntimeErrorCode =
  | 'cache-full' // no free cache slots for a new session
  | 'bad-input' // wrong shape, dtype, NaN/Inf, ids out of range, bad options
  | 'bad-weights' // truncated/corrupt weight file, tensor of the wrong shape or dtype, config that does not match
  | 'bad-model' // model folder or config unusable (missing files, unsupported architecture)
  | 'sequence-too-long' // a step would exceed the session's max length
  | 'unknown-session' // no open session with that id
  | 'session-exists' // a session with that id is already open
  | 'backend-unavailable' // no execution provider in the priority list could start
  | 'not-loaded' // blocks or client parts asked for but not loaded in this runtime
  | 'offline'; // a remote model could not be fetched

export const runtimeErrorCodes: readonly RuntimeErrorCode[] = [
  'cache-full', 'bad-input', 'bad-weights', 'bad-model', 'sequence-too-long', 'unknown-session',
  'session-exists', 'backend-unavailable', 'not-loaded', 'offline',
];

/** An error of the block runtime. `code` is stable; the message says what was wrong and what to do. */
export class RuntimeError extends BouquetError<RuntimeErrorCode> {}
registerErrorKind('RuntimeError', RuntimeError);

/** True for a RuntimeError (also one rebuilt on the other side of a worker boundary). */
export function isRuntimeError(e: unknown, code?: RuntimeErrorCode): e is RuntimeError {
  return e instanceof RuntimeError && (code === undefined || e.code === code);
}

/** Plain-data form of an error for postMessage: its wire form (any BouquetError; anything else as `internal`). */
export type SerializedError = WireError;

/** Turns any thrown value into plain data, keeping a BouquetError's class, code and data. */
export function serializeError(e: unknown): SerializedError {
  return errorToWire(e);
}

/** Rebuilds a serialized error as the class it was thrown as; malformed data is a `bad-frame`. */
export function deserializeError(s: unknown): BouquetError {
  const w = parseWireError(s);
  if (w === null) return new BouquetError('bad-frame', 'the worker sent a malformed error');
  return errorFromWire(w);
}
