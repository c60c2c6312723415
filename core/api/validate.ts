// Validators of the coordinator API: untrusted JSON in, a typed message or a `bad-request` error naming the field out.
import type { BlockSpan, LinearMs, TimeBreakdown } from '../swarm/index.ts';
import { BouquetError, errorCodes, parseWireError, type ErrorCode } from '../errors/index.ts';
import { CoordinatorApiError, type ApiErrorBody } from './errors.ts';
import type {
  AssignmentReason,
  Backend,
  CoordinatorToVolunteerMessage,
  DashboardMessage,
  LeaveReason,
  MeasuredTimes,
  ModelInfo,
  PlacementPolicyChanged,
  PlacementPolicyRequest,
  PlacementView,
  PolicyPrediction,
  RouteGranted,
  RouteHop,
  RouteOutcome,
  RouteRecord,
  RouteReleased,
  RouteReleaseRequest,
  RouteRenewed,
  RouteRequest,
  RouteResponse,
  SwarmEvent,
  SwarmState,
  VolunteerLoad,
  VolunteerMessage,
  VolunteerState,
  VolunteerView,
} from './messages.ts';

/** Outcome of a `parse*` validator: the typed value, or a `bad-request` error naming the field. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: CoordinatorApiError };

/** Longest id (peer, client, lease, ticket, model) accepted, characters. */
export const maxIdLength = 256;
/** Longest public key accepted, characters. */
export const maxPublicKeyLength = 8192;
/** Most entries accepted in a list or map of a message (RTTs, excluded peers, chain hops). */
export const maxListLength = 10_000;

// Thrown inside the readers, turned into a Parsed error at the boundary.
class FieldError extends BouquetError<'bad-request'> {
  constructor(field: string, message: string) {
    super('bad-request', message, { field });
  }

  get field(): string {
    return String(this.data?.field);
  }
}

type Obj = Record<string, unknown>;

function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${String(key)}`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? 'a long string' : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return `a ${typeof v}`;
}

function object(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new FieldError(path === '' ? '(message)' : path, `${path === '' ? 'message' : path} must be an object (got ${describe(v)})`);
  }
  return v as Obj;
}

function str(o: Obj, key: string, path: string, maxLength = maxIdLength): string {
  return strItem(o[key], join(path, key), maxLength);
}

function strItem(v: unknown, field: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0) throw new FieldError(field, `${field} must be a non-empty string (got ${describe(v)})`);
  if (v.length > maxLength) throw new FieldError(field, `${field} is longer than ${maxLength} characters`);
  return v;
}

function checkId(v: unknown, field: string): string {
  return strItem(v, field, maxIdLength);
}

function anyStr(o: Obj, key: string, path: string): string {
  const v = o[key];
  const field = join(path, key);
  if (typeof v !== 'string') throw new FieldError(field, `${field} must be a string (got ${describe(v)})`);
  return v;
}

interface NumRule {
  min?: number;
  integer?: boolean;
  /** Whether min itself is allowed (default true). */
  minInclusive?: boolean;
}

function checkNum(v: unknown, field: string, rule: NumRule): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(field, `${field} must be a finite number (got ${describe(v)})`);
  if (rule.integer === true && !Number.isInteger(v)) throw new FieldError(field, `${field} must be an integer (got ${v})`);
  if (rule.min !== undefined) {
    const inclusive = rule.minInclusive ?? true;
    if (inclusive ? v < rule.min : v <= rule.min) {
      throw new FieldError(field, `${field} must be ${inclusive ? '≥' : '>'} ${rule.min} (got ${v})`);
    }
  }
  return v;
}

function num(o: Obj, key: string, path: string, rule: NumRule = {}): number {
  return checkNum(o[key], join(path, key), rule);
}

const nonNegative: NumRule = { min: 0 };
const count: NumRule = { min: 0, integer: true };
const positiveCount: NumRule = { min: 1, integer: true };

function oneOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[]): T {
  const v = o[key];
  const field = join(path, key);
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new FieldError(field, `${field} must be one of ${allowed.join(', ')} (got ${describe(v)})`);
  }
  return v as T;
}

function list<T>(o: Obj, key: string, path: string, item: (v: unknown, path: string) => T): T[] {
  const v = o[key];
  const field = join(path, key);
  if (!Array.isArray(v)) throw new FieldError(field, `${field} must be an array (got ${describe(v)})`);
  if (v.length > maxListLength) throw new FieldError(field, `${field} has more than ${maxListLength} entries`);
  return v.map((x: unknown, i) => item(x, join(field, i)));
}

function optional<T>(o: Obj, key: string, read: () => T): T | undefined {
  return o[key] === undefined ? undefined : read();
}

function span(v: unknown, path: string): BlockSpan {
  const o = object(v, path);
  const start = num(o, 'start', path, count);
  const end = num(o, 'end', path, count);
  if (end <= start) throw new FieldError(join(path, 'end'), `${join(path, 'end')} must be > start (${start}), got ${end}`);
  return { start, end };
}

function spanOrNull(o: Obj, key: string, path: string): BlockSpan | null {
  return o[key] === null ? null : span(o[key], join(path, key));
}

function linear(v: unknown, path: string): LinearMs {
  const o = object(v, path);
  return { perTokenMs: num(o, 'perTokenMs', path, nonNegative), fixedMs: num(o, 'fixedMs', path, nonNegative) };
}

function load(v: unknown, path: string): VolunteerLoad {
  const o = object(v, path);
  return {
    activeSessions: num(o, 'activeSessions', path, count),
    freeCacheSlots: num(o, 'freeCacheSlots', path, count),
    state: oneOf<VolunteerState>(o, 'state', path, volunteerStates),
  };
}

function breakdown(v: unknown, path: string): TimeBreakdown {
  const o = object(v, path);
  return {
    computeMs: num(o, 'computeMs', path, nonNegative),
    transferMs: num(o, 'transferMs', path, nonNegative),
    waitingMs: num(o, 'waitingMs', path, nonNegative),
    totalMs: num(o, 'totalMs', path, nonNegative),
  };
}

function hop(v: unknown, path: string): RouteHop {
  const o = object(v, path);
  return { peerId: str(o, 'peerId', path), span: span(o.span, join(path, 'span')) };
}

/** Hops must be contiguous and in block order. */
function chain(o: Obj, key: string, path: string): RouteHop[] {
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

function measured(v: unknown, path: string): MeasuredTimes {
  const o = object(v, path);
  const m: MeasuredTimes = { totalMs: num(o, 'totalMs', path, nonNegative), tokens: num(o, 'tokens', path, count) };
  const first = optional(o, 'firstTokenMs', () => num(o, 'firstTokenMs', path, nonNegative));
  if (first !== undefined) m.firstTokenMs = first;
  return m;
}

function errorBody(v: unknown, path: string): ApiErrorBody {
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

function modelInfo(v: unknown, path: string): ModelInfo {
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

const volunteerStates: readonly VolunteerState[] = ['loading', 'serving', 'draining'];
const backends: readonly Backend[] = ['webgpu', 'wasm'];
const assignmentReasons: readonly AssignmentReason[] = ['join', 'keep', 'cover-gap', 'rebalance', 'idle'];
const routeOutcomes: readonly RouteOutcome[] = ['active', 'released', 'expired'];
const leaveReasons: readonly LeaveReason[] = ['leave', 'timeout', 'disconnect', 'replaced'];

function run<T>(read: () => T): Parsed<T> {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, error: new CoordinatorApiError('bad-request', e.message, e.field) };
    throw e;
  }
}

function typeOf(o: Obj): string {
  const t = o.type;
  if (typeof t !== 'string') throw new FieldError('type', `type must be a string (got ${describe(t)})`);
  return t;
}

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

/** Validates a message a volunteer sent. */
export function parseVolunteerMessage(raw: unknown): Parsed<VolunteerMessage> {
  return run((): VolunteerMessage => {
    const o = object(raw, '');
    const type = typeOf(o);
    switch (type) {
      case 'register': {
        const loadedSpan = optional(o, 'loadedSpan', () => span(o.loadedSpan, 'loadedSpan'));
        const m: VolunteerMessage = {
          type,
          peerId: str(o, 'peerId', ''),
          publicKey: str(o, 'publicKey', '', maxPublicKeyLength),
          memoryBytes: num(o, 'memoryBytes', '', { min: 0, minInclusive: false }),
          decodeMsPerBlock: num(o, 'decodeMsPerBlock', '', { min: 0, minInclusive: false }),
          prefillMsPerBlock: linear(o.prefillMsPerBlock, 'prefillMsPerBlock'),
          backend: oneOf<Backend>(o, 'backend', '', backends),
          modelId: str(o, 'modelId', ''),
          protocolVersion: optional(o, 'protocolVersion', () => num(o, 'protocolVersion', '', count)) ?? 0,
        };
        if (loadedSpan !== undefined) m.loadedSpan = loadedSpan;
        return m;
      }
      case 'heartbeat':
        return { type, load: load(o.load, 'load') };
      case 'ready':
        return { type, assignmentId: num(o, 'assignmentId', '', count), span: span(o.span, 'span') };
      case 'leave':
        return { type };
      default:
        throw new FieldError('type', `type must be one of register, heartbeat, ready, leave (got ${describe(type)})`);
    }
  });
}

/** Validates a message the coordinator sent a volunteer (used by the volunteer agent). */
export function parseCoordinatorToVolunteerMessage(raw: unknown): Parsed<CoordinatorToVolunteerMessage> {
  return run((): CoordinatorToVolunteerMessage => {
    const o = object(raw, '');
    const type = typeOf(o);
    switch (type) {
      case 'registered':
        return {
          type,
          peerId: str(o, 'peerId', ''),
          model: modelInfo(o.model, 'model'),
          heartbeatIntervalMs: num(o, 'heartbeatIntervalMs', '', { min: 0, minInclusive: false }),
          heartbeatTimeoutMs: num(o, 'heartbeatTimeoutMs', '', { min: 0, minInclusive: false }),
        };
      case 'assignment':
        return {
          type,
          assignmentId: num(o, 'assignmentId', '', count),
          modelId: str(o, 'modelId', ''),
          span: spanOrNull(o, 'span', ''),
          reason: oneOf<AssignmentReason>(o, 'reason', '', assignmentReasons),
          cacheSlots: num(o, 'cacheSlots', '', count),
        };
      case 'error':
        return { type, error: errorBody(o.error, 'error') };
      default:
        throw new FieldError('type', `type must be one of registered, assignment, error (got ${describe(type)})`);
    }
  });
}

/** Validates a client's route request. */
export function parseRouteRequest(raw: unknown): Parsed<RouteRequest> {
  return run((): RouteRequest => {
    const o = object(raw, '');
    const r: RouteRequest = {
      clientId: str(o, 'clientId', ''),
      promptTokens: num(o, 'promptTokens', '', positiveCount),
      maxNewTokens: num(o, 'maxNewTokens', '', positiveCount),
    };
    if (o.rttMs !== undefined) {
      const m = object(o.rttMs, 'rttMs');
      const keys = Object.keys(m);
      if (keys.length > maxListLength) throw new FieldError('rttMs', `rttMs has more than ${maxListLength} entries`);
      const rtt: Record<string, number> = {};
      for (const k of keys) {
        if (k.length > maxIdLength) throw new FieldError('rttMs', `rttMs has a peer id longer than ${maxIdLength} characters`);
        rtt[k] = num(m, k, 'rttMs', nonNegative);
      }
      r.rttMs = rtt;
    }
    const exclude = optional(o, 'excludePeers', () => list(o, 'excludePeers', '', checkId));
    if (exclude !== undefined) r.excludePeers = exclude;
    const s = optional(o, 'span', () => span(o.span, 'span'));
    if (s !== undefined) r.span = s;
    const modelId = optional(o, 'modelId', () => str(o, 'modelId', ''));
    if (modelId !== undefined) r.modelId = modelId;
    return r;
  });
}


function routeGranted(o: Obj): RouteGranted {
  return {
    kind: 'route',
    leaseId: str(o, 'leaseId', ''),
    chain: chain(o, 'chain', ''),
    expiresAtMs: num(o, 'expiresAtMs', '', nonNegative),
    leaseMs: num(o, 'leaseMs', '', { min: 0, minInclusive: false }),
    predicted: breakdown(o.predicted, 'predicted'),
    policy: str(o, 'policy', ''),
    modelId: str(o, 'modelId', ''),
  };
}

/** Validates the coordinator's answer to a route request or ticket poll (used by the client session). */
export function parseRouteResponse(raw: unknown): Parsed<RouteResponse> {
  return run((): RouteResponse => {
    const o = object(raw, '');
    const kind = o.kind;
    switch (kind) {
      case 'route':
        return routeGranted(o);
      case 'queued':
        return {
          kind,
          ticketId: str(o, 'ticketId', ''),
          position: num(o, 'position', '', positiveCount),
          queueLength: num(o, 'queueLength', '', positiveCount),
        };
      case 'error':
        return { kind, error: errorBody(o.error, 'error') };
      default:
        throw new FieldError('kind', `kind must be one of route, queued, error (got ${describe(kind)})`);
    }
  });
}

/** Validates a release body (an empty body is `{}`). */
export function parseRouteReleaseRequest(raw: unknown): Parsed<RouteReleaseRequest> {
  return run((): RouteReleaseRequest => {
    const o = object(raw, '');
    const m = optional(o, 'measured', () => measured(o.measured, 'measured'));
    return m === undefined ? {} : { measured: m };
  });
}

/** Validates the answer to a release; an error body becomes `ok: false` with the server's code. */
export function parseRouteReleased(raw: unknown): Parsed<RouteReleased> {
  return runAnswer((): RouteReleased => {
    const o = object(raw, '');
    rethrowServerError(o);
    if (o.kind !== 'released') throw new FieldError('kind', `kind must be released (got ${describe(o.kind)})`);
    return { kind: 'released', leaseId: str(o, 'leaseId', '') };
  });
}

/** Validates the answer to a renewal; an error body becomes `ok: false` with the server's code. */
export function parseRouteRenewed(raw: unknown): Parsed<RouteRenewed> {
  return runAnswer((): RouteRenewed => {
    const o = object(raw, '');
    rethrowServerError(o);
    if (o.kind !== 'renewed') throw new FieldError('kind', `kind must be renewed (got ${describe(o.kind)})`);
    return { kind: 'renewed', leaseId: str(o, 'leaseId', ''), expiresAtMs: num(o, 'expiresAtMs', '', nonNegative) };
  });
}

// An `{kind: 'error', error}` answer is the server's refusal: surface its code, not a parse error.
class ServerRefusal extends BouquetError {
  constructor(readonly body: ApiErrorBody) {
    super(body.code, body.message);
  }
}

function rethrowServerError(o: Obj): void {
  if (o.kind === 'error') throw new ServerRefusal(errorBody(o.error, 'error'));
}

/** Validates an error body read from the wire. */
export function parseApiErrorBody(raw: unknown): Parsed<ApiErrorBody> {
  return run(() => errorBody(raw, ''));
}

function volunteerView(v: unknown, path: string): VolunteerView {
  const o = object(v, path);
  return {
    peerId: str(o, 'peerId', path),
    state: oneOf<VolunteerState>(o, 'state', path, volunteerStates),
    span: spanOrNull(o, 'span', path),
    assignedSpan: spanOrNull(o, 'assignedSpan', path),
    load: load(o.load, join(path, 'load')),
    decodeMsPerBlock: num(o, 'decodeMsPerBlock', path, nonNegative),
    prefillMsPerBlock: linear(o.prefillMsPerBlock, join(path, 'prefillMsPerBlock')),
    memoryBytes: num(o, 'memoryBytes', path, nonNegative),
    backend: oneOf<Backend>(o, 'backend', path, backends),
    cacheSlots: num(o, 'cacheSlots', path, count),
    leasedSlots: num(o, 'leasedSlots', path, count),
    joinedAtMs: num(o, 'joinedAtMs', path, nonNegative),
    lastHeartbeatAtMs: num(o, 'lastHeartbeatAtMs', path, nonNegative),
  };
}

function routeRecord(v: unknown, path: string): RouteRecord {
  const o = object(v, path);
  const r: RouteRecord = {
    leaseId: str(o, 'leaseId', path),
    clientId: str(o, 'clientId', path),
    chain: chain(o, 'chain', path),
    policy: str(o, 'policy', path),
    promptTokens: num(o, 'promptTokens', path, positiveCount),
    maxNewTokens: num(o, 'maxNewTokens', path, positiveCount),
    predicted: breakdown(o.predicted, join(path, 'predicted')),
    queuedMs: num(o, 'queuedMs', path, nonNegative),
    grantedAtMs: num(o, 'grantedAtMs', path, nonNegative),
    outcome: oneOf<RouteOutcome>(o, 'outcome', path, routeOutcomes),
  };
  const m = optional(o, 'measured', () => measured(o.measured, join(path, 'measured')));
  if (m !== undefined) r.measured = m;
  const ended = optional(o, 'endedAtMs', () => num(o, 'endedAtMs', path, nonNegative));
  if (ended !== undefined) r.endedAtMs = ended;
  return r;
}

function prediction(v: unknown, path: string): PolicyPrediction {
  const o = object(v, path);
  const p: PolicyPrediction = {
    policy: str(o, 'policy', path),
    perTokenMs: o.perTokenMs === null ? null : num(o, 'perTokenMs', path, nonNegative),
  };
  const error = optional(o, 'error', () => anyStr(o, 'error', path));
  if (error !== undefined) p.error = error;
  if (o.pending !== undefined) {
    if (typeof o.pending !== 'boolean') throw new FieldError(`${path}.pending`, `${path}.pending must be true or false`);
    p.pending = o.pending;
  }
  return p;
}

function placementView(v: unknown, path: string): PlacementView {
  const o = object(v, path);
  const p: PlacementView = {
    policy: str(o, 'policy', path),
    perTokenMs: o.perTokenMs === null ? null : num(o, 'perTokenMs', path, nonNegative),
    computedAtMs: num(o, 'computedAtMs', path, nonNegative),
    uncoveredBlocks: list(o, 'uncoveredBlocks', path, (x, p2) => checkNum(x, p2, count)),
  };
  const error = optional(o, 'error', () => errorBody(o.error, join(path, 'error')));
  if (error !== undefined) p.error = error;
  return p;
}

function swarmState(v: unknown, path: string): SwarmState {
  const o = object(v, path);
  return {
    atMs: num(o, 'atMs', path, nonNegative),
    model: modelInfo(o.model, join(path, 'model')),
    routingPolicy: str(o, 'routingPolicy', path),
    placement: placementView(o.placement, join(path, 'placement')),
    volunteers: list(o, 'volunteers', path, volunteerView),
    predictions: list(o, 'predictions', path, prediction),
    recentRoutes: list(o, 'recentRoutes', path, routeRecord),
    queueLength: num(o, 'queueLength', path, count),
    activeLeases: num(o, 'activeLeases', path, count),
  };
}

function swarmEvent(v: unknown, path: string): SwarmEvent {
  const o = object(v, path);
  const type = o.type;
  switch (type) {
    case 'volunteer-joined':
    case 'volunteer-updated':
      return { type, volunteer: volunteerView(o.volunteer, join(path, 'volunteer')) };
    case 'volunteer-left':
      return { type, peerId: str(o, 'peerId', path), reason: oneOf<LeaveReason>(o, 'reason', path, leaveReasons) };
    case 'placement':
      return {
        type,
        placement: placementView(o.placement, join(path, 'placement')),
        moved: list(o, 'moved', path, checkId),
      };
    case 'predictions':
      return { type, predictions: list(o, 'predictions', path, prediction) };
    case 'route':
      return {
        type,
        route: routeRecord(o.route, join(path, 'route')),
        queueLength: num(o, 'queueLength', path, count),
        activeLeases: num(o, 'activeLeases', path, count),
      };
    case 'queue':
      return { type, queueLength: num(o, 'queueLength', path, count) };
    default:
      throw new FieldError(join(path, 'type'), `${join(path, 'type')} is not a known swarm event (got ${describe(type)})`);
  }
}

/** Validates the swarm state (GET `apiPaths.swarm`). */
export function parseSwarmState(raw: unknown): Parsed<SwarmState> {
  return run(() => swarmState(raw, ''));
}

/** Validates a message of the dashboard socket. */
export function parseDashboardMessage(raw: unknown): Parsed<DashboardMessage> {
  return run((): DashboardMessage => {
    const o = object(raw, '');
    const type = typeOf(o);
    switch (type) {
      case 'snapshot':
        return { type, state: swarmState(o.state, 'state') };
      case 'event':
        return { type, atMs: num(o, 'atMs', '', nonNegative), event: swarmEvent(o.event, 'event') };
      default:
        throw new FieldError('type', `type must be snapshot or event (got ${describe(type)})`);
    }
  });
}

/**
 * Like `run`, but a `{kind: 'error'}` answer from the server keeps the server's code (e.g.
 * `lease-expired`) instead of becoming a parse error. Used by the release/renew parsers.
 */
function runAnswer<T>(read: () => T): Parsed<T> {
  try {
    return run(read);
  } catch (e) {
    if (e instanceof ServerRefusal) {
      return { ok: false, error: new CoordinatorApiError(e.body.code, e.body.message, e.body.field, e.body.data) };
    }
    throw e;
  }
}

/** Validates a policy switch request. */
export function parsePlacementPolicyRequest(raw: unknown): Parsed<PlacementPolicyRequest> {
  return run((): PlacementPolicyRequest => {
    const o = object(raw, '');
    return { policy: str(o, 'policy', '') };
  });
}

/** Validates the answer to a policy switch; an error body becomes `ok: false` with the server's code. */
export function parsePlacementPolicyChanged(raw: unknown): Parsed<PlacementPolicyChanged> {
  return runAnswer((): PlacementPolicyChanged => {
    const o = object(raw, '');
    rethrowServerError(o);
    if (o.kind !== 'placement-policy') throw new FieldError('kind', `kind must be placement-policy (got ${describe(o.kind)})`);
    return { kind: 'placement-policy', placement: placementView(o.placement, 'placement'), moved: list(o, 'moved', '', checkId) };
  });
}
