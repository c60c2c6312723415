// The wire form of an error (worker messages, peer frames, REST bodies, WebSocket messages) and its rebuild.
import { BouquetError, type ErrorData } from './base.ts';
import { isErrorCode, type ErrorCode } from './codes.ts';
import { errorKind, errorKindName, type ErrorKind } from './kinds.ts';

/** An error as it travels: the class name (`kind`), the code, one human line and plain data. */
export interface WireError {
  kind: string;
  code: ErrorCode;
  message: string;
  data?: ErrorData;
}

/** Extra classes to rebuild by `kind`, on top of the registered ones (see kinds.ts). */
export type ErrorKinds = Readonly<Record<string, ErrorKind>>;

/** Longest message kept from the wire (a stranger's text is bounded). */
const maxMessageChars = 2000;

/**
 * Turns any thrown value into its wire form. A BouquetError keeps its class, code and data; anything
 * else is a bug on this side and travels as `internal`.
 */
export function errorToWire(e: unknown): WireError {
  if (e instanceof BouquetError) {
    const b: BouquetError = e as BouquetError;
    const w: WireError = { kind: errorKindName(b), code: b.code, message: b.message };
    if (b.data !== undefined) w.data = b.data;
    return w;
  }
  return { kind: 'BouquetError', code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** Validates an untrusted value as a WireError (bounded text, known code, flat plain data); null when it is not one. */
export function parseWireError(v: unknown): WireError | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!isErrorCode(o.code) || typeof o.message !== 'string') return null;
  const kind = typeof o.kind === 'string' && o.kind.length <= 64 ? o.kind : 'BouquetError';
  const w: WireError = { kind, code: o.code, message: o.message.slice(0, maxMessageChars) };
  if (o.data !== undefined) {
    if (typeof o.data !== 'object' || o.data === null || Array.isArray(o.data)) return null;
    const data: Record<string, string | number | boolean | null> = {};
    let n = 0;
    for (const [k, x] of Object.entries(o.data as Record<string, unknown>)) {
      if (++n > 16) break;
      if (typeof x === 'string') data[k] = x.slice(0, 256);
      // Non-finite numbers are dropped: JSON would send them as null, and none may cross a boundary.
      else if ((typeof x === 'number' && Number.isFinite(x)) || typeof x === 'boolean' || x === null) data[k] = x;
    }
    w.data = data;
  }
  return w;
}

/**
 * Rebuilds the same class (by `kind`: from `kinds`, else the registered ones), code, message and
 * data; unknown kinds become BouquetError. The class's own constructor is not called (each takes
 * its own arguments): the base constructor runs with the class as `new.target`, so `instanceof`,
 * `name` and the getters over `data` work as on the throwing side.
 */
export function errorFromWire(w: WireError, kinds: ErrorKinds = {}): BouquetError {
  const Kind = (Object.hasOwn(kinds, w.kind) ? kinds[w.kind] : undefined) ?? errorKind(w.kind);
  if (Kind !== undefined) return Reflect.construct(BouquetError, [w.code, w.message, w.data], Kind) as BouquetError;
  return new BouquetError(w.code, w.message, w.data);
}
