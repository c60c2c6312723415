// Validators of what dashboards read (snapshot, events, policy switch) and of the served-models list.
import type { Backend, DashboardMessage, LeaveReason, LoopLag, ModelCoverage, ModelsList, PlacementPolicyChanged, PlacementPolicyRequest, PlacementView, PolicyPrediction, RouteOutcome, RouteRecord, SwarmEvent, SwarmState, VolunteerState, VolunteerView } from './messages.ts';
import { type Parsed, FieldError, type Obj, join, describe, object, str, checkId, anyStr, checkNum, num, nonNegative, count, positiveCount, oneOf, list, optional, spanOrNull, linear, load, breakdown, chain, measured, errorBody, modelInfo, volunteerStates, backends, routeOutcomes, leaveReasons, run, typeOf } from './validate-fields.ts';
import { runAnswer, rethrowServerError } from './validate-answer.ts';

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
