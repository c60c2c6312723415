// Validators of the coordinator API: untrusted JSON in, a typed message or a `bad-request` error naming the field out.
import { CoordinatorApiError, type ApiErrorBody } from './errors.ts';
import { type Parsed, apiBounds, maxIdLength, maxPublicKeyLength, maxListLength, errorBody, run } from './validate-fields.ts';

export { apiBounds, maxIdLength, maxPublicKeyLength, maxListLength, type Parsed };

/** Parses JSON text, then validates it; malformed JSON is a `bad-request` on field `(message)`. */
export function parseJsonWith<T>(text: string, parse: (raw: unknown) => Parsed<T>): Parsed<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: new CoordinatorApiError('bad-request', 'message is not valid JSON', '(message)') };
  }
  return parse(raw);
}

/** Validates an error body read from the wire. */
export function parseApiErrorBody(raw: unknown): Parsed<ApiErrorBody> {
  return run(() => errorBody(raw, ''));
}

export * from './validate-volunteer.ts';
export * from './validate-route.ts';
export * from './validate-dashboard.ts';
