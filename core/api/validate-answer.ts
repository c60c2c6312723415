// Answers that may be the server's refusal: keep its code (e.g. `lease-expired`) instead of a parse error.
import { BouquetError } from '../errors/index.ts';
import { CoordinatorApiError, type ApiErrorBody } from './errors.ts';
import { type Parsed, type Obj, errorBody, run } from './validate-fields.ts';

// An `{kind: 'error', error}` answer is the server's refusal: surface its code, not a parse error.
class ServerRefusal extends BouquetError {
  constructor(readonly body: ApiErrorBody) {
    super(body.code, body.message);
  }
}

/** Throws the server's refusal when an answer is `{kind: 'error'}`; `runAnswer` turns it into its coded error. */
export function rethrowServerError(o: Obj): void {
  if (o.kind === 'error') throw new ServerRefusal(errorBody(o.error, 'error'));
}

/**
 * Like `run`, but a `{kind: 'error'}` answer from the server keeps the server's code (e.g.
 * `lease-expired`) instead of becoming a parse error. Used by the release/renew parsers.
 */
export function runAnswer<T>(read: () => T): Parsed<T> {
  try {
    return run(read);
  } catch (e) {
    if (e instanceof ServerRefusal) {
      return { ok: false, error: new CoordinatorApiError(e.body.code, e.body.message, e.body.field, e.body.data) };
    }
    throw e;
  }
}
