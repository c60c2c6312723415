// Errors of the block runtime: one class with a machine-readable code, rebuilt as the same class across Comlink.

/** What went wrong, in words a caller can switch on. */
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
export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string) {
    super(message);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** True for a RuntimeError (also one rebuilt on the other side of a worker boundary). */
export function isRuntimeError(e: unknown, code?: RuntimeErrorCode): e is RuntimeError {
  return e instanceof RuntimeError && (code === undefined || e.code === code);
}

/** Plain-data form of an error for postMessage. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** Turns any thrown value into plain data, keeping a RuntimeError's code. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const out: SerializedError = { name: e.name, message: e.message };
    if (e.stack !== undefined) out.stack = e.stack;
    if (e instanceof RuntimeError) out.code = e.code;
    return out;
  }
  return { name: 'Error', message: String(e) };
}

/** Rebuilds a serialized error: a RuntimeError (same code) when it was one, else a plain Error. */
export function deserializeError(s: SerializedError): Error {
  const known = runtimeErrorCodes.find((c) => c === s.code);
  const e = known !== undefined ? new RuntimeError(known, s.message) : new Error(s.message);
  if (known === undefined) e.name = s.name;
  if (s.stack !== undefined) e.stack = s.stack;
  return e;
}
