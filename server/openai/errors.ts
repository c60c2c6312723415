// Errors of the OpenAI-compatible API in OpenAI's shape: {error: {message, type, param, code}}, with our coded error's code and its HTTP status.
import { apiErrorBody, httpStatusForCode, type ApiErrorBody } from '../../core/api/index.ts';
import type { ErrorCode } from '../../core/errors/index.ts';

/** OpenAI's error body; `code` is one of core/errors' codes, `param` the request field to blame (or null). */
export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: ErrorCode };
}

/** OpenAI's error types, by HTTP status (the SDKs pick their error class by status, people read the type). */
export type OpenAiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

function typeForStatus(status: number): OpenAiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** The OpenAI-shaped body and HTTP status of any thrown value (a BouquetError keeps its code; anything else is `internal`). */
export function openAiError(e: unknown): { status: number; body: OpenAiErrorBody } {
  return openAiErrorFromWire(apiErrorBody(e));
}

/** The OpenAI-shaped body and HTTP status of one of our wire errors. */
export function openAiErrorFromWire(w: ApiErrorBody): { status: number; body: OpenAiErrorBody } {
  // 499 (aborted) is nginx's, not a status an OpenAI client knows: the caller went away, so nothing reads it anyway.
  const status = httpStatusForCode(w.code);
  return { status, body: { error: { message: w.message, type: typeForStatus(status), param: w.field ?? null, code: w.code } } };
}
