// Validators of the coordinator API: untrusted JSON in, a typed message or a `bad-request` error naming the field out.
import { BouquetError } from '../errors/index.ts';
import { CoordinatorApiError, type ApiErrorBody } from './errors.ts';
import type {
  AssignmentReason,
  Backend,
  CoordinatorToVolunteerMessage,
  DashboardMessage,
  LeaveReason,
  LoopLag,
  ModelCoverage,
  ModelsList,
  PlacementPolicyChanged,
  PlacementPolicyRequest,
  PlacementView,
  PolicyPrediction,
  RouteGranted,
  RouteOutcome,
  RouteRecord,
  RouteReleased,
  RouteReleaseRequest,
  RouteRenewed,
  RouteRenewRequest,
  RouteRequest,
  RouteResponse,
  SwarmEvent,
  SwarmState,
  VolunteerMessage,
  VolunteerState,
  VolunteerView,
} from './messages.ts';

import {
  type Parsed, apiBounds, positiveTokens, serial, peerCount, maxIdLength, maxPublicKeyLength, maxListLength, FieldError, type Obj, join, describe, object, str, checkId, anyStr, checkNum, num, nonNegative, count, positiveCount, oneOf, list, optional, span, spanOrNull, linear, load, breakdown, chain, measured, errorBody, modelInfo, volunteerStates, backends, assignmentReasons, routeOutcomes, leaveReasons, run, typeOf,
  strItem,
} from './validate-fields.ts';
import { maxLeaseTokenLength, maxReportedSessions } from './identity.ts';

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

/** Longest signature (base64url) accepted, characters (a P-256 one is 86). */
const maxSignatureLength = 512;
/** Longest lease secret accepted, characters (the coordinator's are 43). */
const maxLeaseSecretLength = 256;

/** The signed leases a register or heartbeat reports: at most `maxReportedSessions`, each bounded. */
function sessionTokens(o: Obj): string[] | undefined {
  return optional(o, 'sessions', () => {
    const v = o.sessions;
    if (!Array.isArray(v)) throw new FieldError('sessions', `sessions must be an array (got ${describe(v)})`);
    if (v.length > maxReportedSessions) throw new FieldError('sessions', `sessions has more than ${maxReportedSessions} entries`);
    return v.map((x: unknown, i) => strItem(x, `sessions.${i}`, maxLeaseTokenLength));
  });
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
          memoryBytes: num(o, 'memoryBytes', '', { min: 0, minInclusive: false, max: apiBounds.maxMemoryBytes }),
          decodeMsPerBlock: num(o, 'decodeMsPerBlock', '', { min: apiBounds.minDecodeMsPerBlock, max: apiBounds.maxStepMs }),
          prefillMsPerBlock: linear(o.prefillMsPerBlock, 'prefillMsPerBlock'),
          backend: oneOf<Backend>(o, 'backend', '', backends),
          modelId: str(o, 'modelId', ''),
          protocolVersion: optional(o, 'protocolVersion', () => num(o, 'protocolVersion', '', serial)) ?? 0,
        };
        if (loadedSpan !== undefined) m.loadedSpan = loadedSpan;
        const signature = optional(o, 'signature', () => str(o, 'signature', '', maxSignatureLength));
        if (signature !== undefined) m.signature = signature;
        const sessions = sessionTokens(o);
        if (sessions !== undefined) m.sessions = sessions;
        return m;
      }
      case 'heartbeat': {
        const sessions = sessionTokens(o);
        return sessions === undefined ? { type, load: load(o.load, 'load') } : { type, load: load(o.load, 'load'), sessions };
      }
      case 'ready':
        return { type, assignmentId: num(o, 'assignmentId', '', serial), span: span(o.span, 'span') };
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
      case 'challenge':
        return { type, nonce: str(o, 'nonce', '') };
      case 'registered':
        return {
          type,
          peerId: str(o, 'peerId', ''),
          coordinatorKey: str(o, 'coordinatorKey', '', maxPublicKeyLength),
          model: modelInfo(o.model, 'model'),
          heartbeatIntervalMs: num(o, 'heartbeatIntervalMs', '', { min: 0, minInclusive: false, max: apiBounds.maxRequestMs }),
          heartbeatTimeoutMs: num(o, 'heartbeatTimeoutMs', '', { min: 0, minInclusive: false, max: apiBounds.maxRequestMs }),
        };
      case 'assignment':
        return {
          type,
          assignmentId: num(o, 'assignmentId', '', serial),
          modelId: str(o, 'modelId', ''),
          span: spanOrNull(o, 'span', ''),
          reason: oneOf<AssignmentReason>(o, 'reason', '', assignmentReasons),
          cacheSlots: num(o, 'cacheSlots', '', peerCount),
        };
      case 'error':
        return { type, error: errorBody(o.error, 'error') };
      default:
        throw new FieldError('type', `type must be one of challenge, registered, assignment, error (got ${describe(type)})`);
    }
  });
}

/** Most entries a route request's `rttMs` may hold (a client reports the volunteers it measured, web/client keeps 64). */
export const maxRttEntries = 256;
/** Validates a client's route request (`rttMs` bounded in entries, values clamped to apiBounds.maxRttMs). */
export function parseRouteRequest(raw: unknown): Parsed<RouteRequest> {
  return run((): RouteRequest => {
    const o = object(raw, '');
    const r: RouteRequest = {
      clientId: str(o, 'clientId', ''),
      promptTokens: num(o, 'promptTokens', '', positiveTokens),
      maxNewTokens: num(o, 'maxNewTokens', '', positiveTokens),
    };
    if (o.rttMs !== undefined) {
      const m = object(o.rttMs, 'rttMs');
      const keys = Object.keys(m);
      if (keys.length > maxRttEntries) throw new FieldError('rttMs', `rttMs has more than ${maxRttEntries} entries`);
      const rtt: Record<string, number> = {};
      for (const k of keys) {
        if (k.length > maxIdLength) throw new FieldError('rttMs', `rttMs has a peer id longer than ${maxIdLength} characters`);
        // Clamped, not refused: a client on a very slow link still gets a route, and no sum overflows.
        rtt[k] = Math.min(num(m, k, 'rttMs', nonNegative), apiBounds.maxRttMs);
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
    leaseSecret: str(o, 'leaseSecret', '', maxLeaseSecretLength),
    leaseToken: str(o, 'leaseToken', '', maxLeaseTokenLength),
    leaseTag: str(o, 'leaseTag', ''),
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

/** Validates a release body. */
export function parseRouteReleaseRequest(raw: unknown): Parsed<RouteReleaseRequest> {
  return run((): RouteReleaseRequest => {
    const o = object(raw, '');
    const leaseSecret = str(o, 'leaseSecret', '', maxLeaseSecretLength);
    const m = optional(o, 'measured', () => measured(o.measured, 'measured'));
    return m === undefined ? { leaseSecret } : { leaseSecret, measured: m };
  });
}

/** Validates a renewal body. */
export function parseRouteRenewRequest(raw: unknown): Parsed<RouteRenewRequest> {
  return run((): RouteRenewRequest => {
    const o = object(raw, '');
    return { leaseSecret: str(o, 'leaseSecret', '', maxLeaseSecretLength) };
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
    leasedSlots: num(o, 'leasedSlots', path, nonNegative), // fractional under reservation by declared length
    joinedAtMs: num(o, 'joinedAtMs', path, nonNegative),
    lastHeartbeatAtMs: num(o, 'lastHeartbeatAtMs', path, nonNegative),
    probation: bool(o, 'probation', path),
  };
}

function bool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new FieldError(join(path, key), `${join(path, key)} must be true or false (got ${describe(v)})`);
  return v;
}

function routeRecord(v: unknown, path: string): RouteRecord {
  const o = object(v, path);
  const r: RouteRecord = {
    leaseTag: str(o, 'leaseTag', path),
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

function loopLag(v: unknown, path: string): LoopLag {
  const o = object(v, path);
  return { recentMaxMs: num(o, 'recentMaxMs', path, nonNegative), lostMs: num(o, 'lostMs', path, nonNegative) };
}

function swarmState(v: unknown, path: string): SwarmState {
  const o = object(v, path);
  const s: SwarmState = {
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
  const lag = optional(o, 'loopLag', () => loopLag(o.loopLag, join(path, 'loopLag')));
  if (lag !== undefined) s.loopLag = lag;
  return s;
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
    case 'loop-lag':
      return { type, loopLag: loopLag(o.loopLag, join(path, 'loopLag')) };
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
    const r: PlacementPolicyRequest = { policy: str(o, 'policy', '') };
    const modelId = optional(o, 'modelId', () => str(o, 'modelId', ''));
    if (modelId !== undefined) r.modelId = modelId;
    return r;
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

function modelCoverage(v: unknown, path: string): ModelCoverage {
  const o = object(v, path);
  const served = o.fullyServed;
  if (typeof served !== 'boolean') throw new FieldError(join(path, 'fullyServed'), `${join(path, 'fullyServed')} must be true or false`);
  return {
    model: modelInfo(o.model, join(path, 'model')),
    volunteers: num(o, 'volunteers', path, count),
    servedBlocks: num(o, 'servedBlocks', path, count),
    minReplicas: num(o, 'minReplicas', path, count),
    meanReplicas: num(o, 'meanReplicas', path, nonNegative),
    fullyServed: served,
    uncoveredBlocks: list(o, 'uncoveredBlocks', path, (x, p2) => checkNum(x, p2, count)),
  };
}

/** Validates the list of served models (GET `apiPaths.servedModels`). */
export function parseModelsList(raw: unknown): Parsed<ModelsList> {
  return run((): ModelsList => {
    const o = object(raw, '');
    const models = list(o, 'models', '', modelCoverage);
    if (models.length === 0) throw new FieldError('models', 'models must name at least one model');
    return { models, defaultModelId: str(o, 'defaultModelId', ''), suggestedModelId: str(o, 'suggestedModelId', '') };
  });
}
