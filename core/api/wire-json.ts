// The JSON encoder at the coordinator's boundary: no non-finite number ever leaves (JSON would turn it into null).
import { BouquetError } from '../errors/index.ts';

/**
 * JSON.stringify replacer that throws a coded `internal` error naming the key of the first
 * non-finite number: an Infinity or NaN in an answer is a bug upstream (a bound missing), and a
 * coded error is better than a `null` the receiver's validator refuses later.
 */
export function finiteJsonReplacer(key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new BouquetError('internal', `refusing to send the non-finite number ${String(value)} at '${key === '' ? '(message)' : key}'`, { field: key });
  }
  return value;
}

/** JSON text of `value`; throws BouquetError (code `internal`) when it holds a non-finite number. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, finiteJsonReplacer);
}
