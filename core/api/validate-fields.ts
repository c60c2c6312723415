// Field readers of the coordinator API's validators: bounded primitives, shared shapes, and the bad-request they throw.
import type { BlockSpan, LinearMs, TimeBreakdown } from '../swarm/index.ts';
import { BouquetError, errorCodes, parseWireError, type ErrorCode } from '../errors/index.ts';
import { CoordinatorApiError, type ApiErrorBody } from './errors.ts';
import type {
  AssignmentReason,
  Backend,
  LeaveReason,
  MeasuredTimes,
  ModelInfo,
  RouteHop,
  RouteOutcome,
  VolunteerLoad,
  VolunteerState,
} from './messages.ts';

/** Outcome of a `parse*` validator: the typed value, or a `bad-request` error naming the field. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: CoordinatorApiError };

/** Longest id (peer, client, lease, ticket, model) accepted, characters. */
export const maxIdLength = 256;
/** Longest public key accepted, characters. */
export const maxPublicKeyLength = 8192;
/** Most entries accepted in a list or map of a message (RTTs, excluded peers, chain hops). */
export const maxListLength = 10_000;

/**
 * Plausible bounds on every number a peer sends (docs/api.md, "Bounds"). A value outside is a
 * `bad-request` naming the field, except RTTs, which are clamped (a client on a dead link still gets
 * a route). No algorithm's cost may grow with a claimed value beyond these.
 */
export const apiBounds = {
  /** M_j: 1 TiB, more than any browser tab or single accelerator offers (an H200 has 141 GB), bytes. */
  maxMemoryBytes: 2 ** 40,
  /** τ_j floor: 1 µs per block per token, far below any measured block (a real GPU takes ≥ 10 µs), ms. */
  minDecodeMsPerBlock: 1e-3,
  /** τ_j, τᴵ_j terms and measured step times: a minute per block or per request step is a dead peer, ms. */
  maxStepMs: 60_000,
  /** A client's RTT report is clamped to this: a minute is a dead link, not a route worth planning, ms. */
  maxRttMs: 60_000,
  /** Blocks of a span and block indices: no model served here has more, blocks. */
  maxBlocks: 10_000,
  /** Tokens of a request (prompt or new) and of a measured report: 2^20, beyond any model's context, tokens. */
  maxTokens: 2 ** 20,
  /** Counts a volunteer reports (sessions, free cache slots): 2^20, beyond any tab's memory. */
  maxCount: 2 ** 20,
  /** A measured whole request: one day, ms. */
  maxRequestMs: 86_400_000,
  /** Ids that count up (assignments, protocol versions): exact integers only. */
  maxSerial: Number.MAX_SAFE_INTEGER,
} as const;

// Thrown inside the readers, turned into a Parsed error at the boundary.
export class FieldError extends BouquetError<'bad-request'> {
  constructor(field: string, message: string) {
    super('bad-request', message, { field });
  }

  get field(): string {
    return String(this.data?.field);
  }
}

export type Obj = Record<string, unknown>;

export function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${String(key)}`;
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? 'a long string' : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return `a ${typeof v}`;
}

export function object(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new FieldError(path === '' ? '(message)' : path, `${path === '' ? 'message' : path} must be an object (got ${describe(v)})`);
  }
  return v as Obj;
}

export function str(o: Obj, key: string, path: string, maxLength = maxIdLength): string {
  return strItem(o[key], join(path, key), maxLength);
}

export function strItem(v: unknown, field: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0) throw new FieldError(field, `${field} must be a non-empty string (got ${describe(v)})`);
  if (v.length > maxLength) throw new FieldError(field, `${field} is longer than ${maxLength} characters`);
  return v;
}

export function checkId(v: unknown, field: string): string {
  return strItem(v, field, maxIdLength);
}

export function anyStr(o: Obj, key: string, path: string): string {
  const v = o[key];
  const field = join(path, key);
  if (typeof v !== 'string') throw new FieldError(field, `${field} must be a string (got ${describe(v)})`);
  return v;
}

export interface NumRule {
  min?: number;
  /** Largest value allowed (inclusive). */
  max?: number;
  integer?: boolean;
  /** Whether min itself is allowed (default true). */
  minInclusive?: boolean;
}

export function checkNum(v: unknown, field: string, rule: NumRule): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(field, `${field} must be a finite number (got ${describe(v)})`);
  if (rule.integer === true && !Number.isInteger(v)) throw new FieldError(field, `${field} must be an integer (got ${v})`);
  if (rule.min !== undefined) {
    const inclusive = rule.minInclusive ?? true;
    if (inclusive ? v < rule.min : v <= rule.min) {
      throw new FieldError(field, `${field} must be ${inclusive ? '≥' : '>'} ${rule.min} (got ${v})`);
    }
  }
  if (rule.max !== undefined && v > rule.max) throw new FieldError(field, `${field} must be ≤ ${rule.max} (got ${v})`);
  return v;
}

export function num(o: Obj, key: string, path: string, rule: NumRule = {}): number {
  return checkNum(o[key], join(path, key), rule);
}

export const nonNegative: NumRule = { min: 0 };
export const count: NumRule = { min: 0, integer: true };
export const positiveCount: NumRule = { min: 1, integer: true };
/** Bounded rules for what peers send (apiBounds). */
export const stepMs: NumRule = { min: 0, max: apiBounds.maxStepMs };
export const requestMs: NumRule = { min: 0, max: apiBounds.maxRequestMs };
export const tokenCount: NumRule = { min: 0, integer: true, max: apiBounds.maxTokens };
export const positiveTokens: NumRule = { min: 1, integer: true, max: apiBounds.maxTokens };
export const peerCount: NumRule = { min: 0, integer: true, max: apiBounds.maxCount };
export const serial: NumRule = { min: 0, integer: true, max: apiBounds.maxSerial };
export const blockIndex: NumRule = { min: 0, integer: true, max: apiBounds.maxBlocks };

export function oneOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[]): T {
  const v = o[key];
  const field = join(path, key);
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new FieldError(field, `${field} must be one of ${allowed.join(', ')} (got ${describe(v)})`);
  }
  return v as T;
}

export function list<T>(o: Obj, key: string, path: string, item: (v: unknown, path: string) => T): T[] {
  const v = o[key];
  const field = join(path, key);
  if (!Array.isArray(v)) throw new FieldError(field, `${field} must be an array (got ${describe(v)})`);
  if (v.length > maxListLength) throw new FieldError(field, `${field} has more than ${maxListLength} entries`);
  return v.map((x: unknown, i) => item(x, join(field, i)));
}

export function optional<T>(o: Obj, key: string, read: () => T): T | undefined {
  return o[key] === undefined ? undefined : read();
}

export function span(v: unknown, path: string): BlockSpan {
  const o = object(v, path);
  const start = num(o, 'start', path, blockIndex);
  const end = num(o, 'end', path, blockIndex);
  if (end <= start) throw new FieldError(join(path, 'end'), `${join(path, 'end')} must be > start (${start}), got ${end}`);
  return { start, end };
}

export function spanOrNull(o: Obj, key: string, path: string): BlockSpan | null {
  return o[key] === null ? null : span(o[key], join(path, key));
}

export function linear(v: unknown, path: string): LinearMs {
  const o = object(v, path);
  return { perTokenMs: num(o, 'perTokenMs', path, stepMs), fixedMs: num(o, 'fixedMs', path, stepMs) };
}

export function load(v: unknown, path: string): VolunteerLoad {
  const o = object(v, path);
  return {
    activeSessions: num(o, 'activeSessions', path, peerCount),
    freeCacheSlots: num(o, 'freeCacheSlots', path, peerCount),
    state: oneOf<VolunteerState>(o, 'state', path, volunteerStates),
  };
}

export function breakdown(v: unknown, path: string): TimeBreakdown {
  const o = object(v, path);
  const b: TimeBreakdown = {
    computeMs: num(o, 'computeMs', path, nonNegative),
    transferMs: num(o, 'transferMs', path, nonNegative),
    waitingMs: num(o, 'waitingMs', path, nonNegative),
    totalMs: num(o, 'totalMs', path, nonNegative),
  };
  const overhead = optional(o, 'overheadMs', () => num(o, 'overheadMs', path, nonNegative));
  if (overhead !== undefined) b.overheadMs = overhead;
  const client = optional(o, 'clientMs', () => num(o, 'clientMs', path, nonNegative));
  if (client !== undefined) b.clientMs = client;
  return b;
}

export function hop(v: unknown, path: string): RouteHop {
  const o = object(v, path);
  return { peerId: str(o, 'peerId', path), span: span(o.span, join(path, 'span')) };
}

/** Hops must be contiguous and in block order. */
export function chain(o: Obj, key: string, path: string): RouteHop[] {
  const hops = list(o, key, path, hop);
  if (hops.length === 0) throw new FieldError(join(path, key), `${join(path, key)} must have at least one hop`);
  for (let i = 1; i < hops.length; i++) {
    const prev = hops[i - 1];
    const cur = hops[i];
    if (prev !== undefined && cur !== undefined && cur.span.start !== prev.span.end) {
      const field = join(join(join(path, key), i), 'span.start');
      throw new FieldError(field, `${field} must equal the previous hop's end (${prev.span.end}), got ${cur.span.start}`);
    }
  }
  return hops;
}

export function measured(v: unknown, path: string): MeasuredTimes {
  const o = object(v, path);
  const m: MeasuredTimes = { totalMs: num(o, 'totalMs', path, requestMs), tokens: num(o, 'tokens', path, tokenCount) };
  const first = optional(o, 'firstTokenMs', () => num(o, 'firstTokenMs', path, requestMs));
  if (first !== undefined) m.firstTokenMs = first;
  const client = optional(o, 'clientMsPerToken', () => num(o, 'clientMsPerToken', path, stepMs));
  if (client !== undefined) m.clientMsPerToken = client;
  return m;
}

export function errorBody(v: unknown, path: string): ApiErrorBody {
  const o = object(v, path);
  const body: ApiErrorBody = {
    code: oneOf<ErrorCode>(o, 'code', path, errorCodes),
    message: anyStr(o, 'message', path),
  };
  const field = optional(o, 'field', () => anyStr(o, 'field', path));
  if (field !== undefined) body.field = field;
  const kind = optional(o, 'kind', () => str(o, 'kind', path, 64));
  if (kind !== undefined) body.kind = kind;
  if (o.data !== undefined) {
    // The same bounds as every other boundary (flat plain values, bounded text).
    const w = parseWireError({ code: body.code, message: body.message, data: o.data });
    if (w === null) throw new FieldError(join(path, 'data'), `${join(path, 'data')} must be an object of plain values`);
    if (w.data !== undefined) body.data = w.data;
  }
  return body;
}

export function modelInfo(v: unknown, path: string): ModelInfo {
  const o = object(v, path);
  return {
    id: str(o, 'id', path),
    numBlocks: num(o, 'numBlocks', path, positiveCount),
    blockBytes: num(o, 'blockBytes', path, count),
    cacheBytesPerBlock: num(o, 'cacheBytesPerBlock', path, count),
    maxSessionTokens: num(o, 'maxSessionTokens', path, positiveCount),
    filesPath: str(o, 'filesPath', path, 4096),
    files: list(o, 'files', path, (x, p) => {
      const f = strItem(x, p, 4096);
      if (f.split('/').includes('..')) throw new FieldError(p, `${p} must not contain a '..' segment`);
      return f;
    }),
  };
}

export const volunteerStates: readonly VolunteerState[] = ['loading', 'serving', 'draining'];
export const backends: readonly Backend[] = ['webgpu', 'wasm'];
export const assignmentReasons: readonly AssignmentReason[] = ['join', 'keep', 'cover-gap', 'rebalance', 'idle'];
export const routeOutcomes: readonly RouteOutcome[] = ['active', 'released', 'expired'];
export const leaveReasons: readonly LeaveReason[] = ['leave', 'timeout', 'disconnect', 'replaced', 'banned'];

export function run<T>(read: () => T): Parsed<T> {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, error: new CoordinatorApiError('bad-request', e.message, e.field) };
    throw e;
  }
}

export function typeOf(o: Obj): string {
  const t = o.type;
  if (typeof t !== 'string') throw new FieldError('type', `type must be a string (got ${describe(t)})`);
  return t;
}

