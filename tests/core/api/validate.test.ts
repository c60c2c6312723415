// Validators of the coordinator API: good messages pass typed, malformed ones fail with the field named.
import { describe, expect, it } from 'vitest';
import {
  apiBounds,
  apiErrorFromWire,
  CoordinatorApiError,
  httpStatusForCode,
  maxRttEntries,
  parseCoordinatorToVolunteerMessage,
  parseDashboardMessage,
  parseJsonWith,
  parsePlacementPolicyChanged,
  parsePlacementPolicyRequest,
  parseRouteReleased,
  parseRouteReleaseRequest,
  parseRouteRenewRequest,
  parseRouteRenewed,
  parseRouteRequest,
  parseRouteResponse,
  parseSwarmState,
  parseVolunteerMessage,
  routeReleasePath,
  modelFilePath,
  type Parsed,
  type SwarmState,
} from '../../../core/api/index.ts';

const register = {
  type: 'register',
  peerId: 'vol-1',
  publicKey: 'pk',
  memoryBytes: 1e9,
  decodeMsPerBlock: 2.5,
  prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 3 },
  backend: 'wasm',
  modelId: 'stories260K',
  protocolVersion: 1,
};

function failure<T>(p: Parsed<T>): CoordinatorApiError {
  if (p.ok) throw new Error(`expected a failure, got ${JSON.stringify(p.value)}`);
  return p.error;
}

function value<T>(p: Parsed<T>): T {
  if (!p.ok) throw p.error;
  return p.value;
}

describe('parseVolunteerMessage', () => {
  it('reads a register message without protocolVersion (from before the field) as version 0', () => {
    const old: Partial<typeof register> = { ...register };
    delete old.protocolVersion;
    expect(value(parseVolunteerMessage(old))).toMatchObject({ type: 'register', protocolVersion: 0 });
  });

  it('accepts a register message and keeps its numbers', () => {
    const m = value(parseVolunteerMessage({ ...register, loadedSpan: { start: 0, end: 3 } }));
    expect(m).toEqual({ ...register, loadedSpan: { start: 0, end: 3 } });
  });

  it.each([
    [{ ...register, peerId: '' }, 'peerId'],
    [{ ...register, peerId: 'x'.repeat(300) }, 'peerId'],
    [{ ...register, memoryBytes: -1 }, 'memoryBytes'],
    [{ ...register, memoryBytes: Number.NaN }, 'memoryBytes'],
    [{ ...register, decodeMsPerBlock: '2' }, 'decodeMsPerBlock'],
    [{ ...register, prefillMsPerBlock: { perTokenMs: 0.1 } }, 'prefillMsPerBlock.fixedMs'],
    [{ ...register, prefillMsPerBlock: 4 }, 'prefillMsPerBlock'],
    [{ ...register, backend: 'cuda' }, 'backend'],
    [{ ...register, modelId: undefined }, 'modelId'],
    [{ ...register, loadedSpan: { start: 3, end: 3 } }, 'loadedSpan.end'],
    [{ ...register, loadedSpan: { start: -1, end: 3 } }, 'loadedSpan.start'],
    [{ ...register, loadedSpan: { start: 0.5, end: 3 } }, 'loadedSpan.start'],
    [{ ...register, protocolVersion: -1 }, 'protocolVersion'],
    [{ ...register, protocolVersion: '1' }, 'protocolVersion'],
    [{ type: 'heartbeat', load: { activeSessions: 1, freeCacheSlots: 2, state: 'sleeping' } }, 'load.state'],
    [{ type: 'heartbeat', load: { activeSessions: 1.5, freeCacheSlots: 2, state: 'serving' } }, 'load.activeSessions'],
    [{ type: 'heartbeat' }, 'load'],
    [{ type: 'ready', assignmentId: 1 }, 'span'],
    [{ type: 'dance' }, 'type'],
    [{ peerId: 'x' }, 'type'],
    [[1, 2], '(message)'],
    [null, '(message)'],
  ])('rejects %j naming field %s', (raw, field) => {
    const e = failure(parseVolunteerMessage(raw));
    expect(e).toBeInstanceOf(CoordinatorApiError);
    expect(e.code).toBe('bad-request');
    expect(e.field).toBe(field);
  });

  it('accepts heartbeat, ready and leave', () => {
    expect(value(parseVolunteerMessage({ type: 'heartbeat', load: { activeSessions: 0, freeCacheSlots: 7, state: 'serving' } })).type).toBe('heartbeat');
    expect(value(parseVolunteerMessage({ type: 'ready', assignmentId: 2, span: { start: 1, end: 5 } }))).toEqual({
      type: 'ready',
      assignmentId: 2,
      span: { start: 1, end: 5 },
    });
    expect(value(parseVolunteerMessage({ type: 'leave' }))).toEqual({ type: 'leave' });
  });

  it('turns invalid JSON into a bad-request', () => {
    const e = failure(parseJsonWith('{"type":', parseVolunteerMessage));
    expect(e.code).toBe('bad-request');
  });
});

describe('parseRouteRequest', () => {
  const good = { clientId: 'c1', promptTokens: 12, maxNewTokens: 64 };

  it('accepts a minimal and a failover request', () => {
    expect(value(parseRouteRequest(good))).toEqual(good);
    const failover = { ...good, rttMs: { a: 3, b: 40 }, excludePeers: ['b'], span: { start: 2, end: 5 }, modelId: 'm' };
    expect(value(parseRouteRequest(failover))).toEqual(failover);
  });

  it('clamps reported round trips to apiBounds.maxRttMs and bounds their count', () => {
    expect(value(parseRouteRequest({ ...good, rttMs: { a: 1e300, b: 7 } })).rttMs).toEqual({ a: apiBounds.maxRttMs, b: 7 });
    const many = Object.fromEntries(Array.from({ length: maxRttEntries + 1 }, (_, i) => [`p${i}`, 1]));
    expect(failure(parseRouteRequest({ ...good, rttMs: many })).field).toBe('rttMs');
  });

  it.each([
    [{ ...good, clientId: 7 }, 'clientId'],
    [{ ...good, promptTokens: 0 }, 'promptTokens'],
    [{ ...good, maxNewTokens: 2.5 }, 'maxNewTokens'],
    [{ ...good, rttMs: { a: -1 } }, 'rttMs.a'],
    [{ ...good, rttMs: [1] }, 'rttMs'],
    [{ ...good, excludePeers: ['a', ''] }, 'excludePeers.1'],
    [{ ...good, excludePeers: 'a' }, 'excludePeers'],
    [{ ...good, span: { start: 4, end: 2 } }, 'span.end'],
  ])('rejects %j naming field %s', (raw, field) => {
    const e = failure(parseRouteRequest(raw));
    expect(e.code).toBe('bad-request');
    expect(e.field).toBe(field);
  });
});

describe('parseRouteResponse', () => {
  const granted = {
    kind: 'route',
    leaseId: 'L1',
    leaseSecret: 'S1',
    leaseToken: 'T1',
    leaseTag: 'tag1',
    chain: [
      { peerId: 'a', span: { start: 0, end: 2 } },
      { peerId: 'b', span: { start: 2, end: 5 } },
    ],
    expiresAtMs: 1_700_000_000_000,
    leaseMs: 60_000,
    predicted: { computeMs: 10, transferMs: 5, waitingMs: 0, totalMs: 15 },
    policy: 'jffc',
    modelId: 'm',
  };

  it('accepts route, queued and error answers', () => {
    expect(value(parseRouteResponse(granted))).toEqual(granted);
    expect(value(parseRouteResponse({ kind: 'queued', ticketId: 't', position: 1, queueLength: 3 })).kind).toBe('queued');
    const refused = value(parseRouteResponse({ kind: 'error', error: { code: 'no-route', message: 'none' } }));
    expect(refused).toEqual({ kind: 'error', error: { code: 'no-route', message: 'none' } });
  });

  it('rejects a chain with a gap, naming the hop', () => {
    const gap = { ...granted, chain: [granted.chain[0], { peerId: 'b', span: { start: 3, end: 5 } }] };
    expect(failure(parseRouteResponse(gap)).field).toBe('chain.1.span.start');
  });

  it('rejects an unknown error code', () => {
    expect(failure(parseRouteResponse({ kind: 'error', error: { code: 'oops', message: '' } })).field).toBe('error.code');
  });
});

describe('release and renew', () => {
  it('parses release bodies', () => {
    expect(value(parseRouteReleaseRequest({ leaseSecret: 's' }))).toEqual({ leaseSecret: 's' });
    expect(value(parseRouteReleaseRequest({ leaseSecret: 's', measured: { totalMs: 900, tokens: 32, firstTokenMs: 80 } }))).toEqual({
      leaseSecret: 's', measured: { totalMs: 900, tokens: 32, firstTokenMs: 80 },
    });
    expect(failure(parseRouteReleaseRequest({ leaseSecret: 's', measured: { totalMs: 900 } })).field).toBe('measured.tokens');
    // Release and renewal need the lease's secret.
    expect(failure(parseRouteReleaseRequest({})).field).toBe('leaseSecret');
    expect(failure(parseRouteRenewRequest({ leaseSecret: 'x'.repeat(300) })).field).toBe('leaseSecret');
    expect(value(parseRouteRenewRequest({ leaseSecret: 's' }))).toEqual({ leaseSecret: 's' });
  });

  it('keeps the server code of a refused release or renewal', () => {
    expect(value(parseRouteReleased({ kind: 'released', leaseId: 'L' }))).toEqual({ kind: 'released', leaseId: 'L' });
    const refused = failure(parseRouteReleased({ kind: 'error', error: { code: 'unknown-lease', message: 'no such lease' } }));
    expect(refused.code).toBe('unknown-lease');
    const expired = failure(parseRouteRenewed({ kind: 'error', error: { code: 'lease-expired', message: 'gone' } }));
    expect(expired.code).toBe('lease-expired');
  });
});

describe('coordinator → volunteer messages', () => {
  it('accepts an assignment and a registered message', () => {
    const a = { type: 'assignment', assignmentId: 1, modelId: 'm', span: { start: 0, end: 5 }, reason: 'join', cacheSlots: 9 };
    expect(value(parseCoordinatorToVolunteerMessage(a))).toEqual(a);
    const idle = { ...a, span: null, reason: 'idle' };
    expect(value(parseCoordinatorToVolunteerMessage(idle))).toEqual(idle);
    const registered = {
      type: 'registered',
      peerId: 'p',
      coordinatorKey: 'MFkw',
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 5000,
      model: { id: 'm', numBlocks: 5, blockBytes: 10, cacheBytesPerBlock: 4, maxSessionTokens: 512, filesPath: '/models/m/', files: ['a.bin'] },
    };
    expect(value(parseCoordinatorToVolunteerMessage(registered))).toEqual(registered);
    const escape = { ...registered, model: { ...registered.model, files: ['../etc/passwd'] } };
    expect(failure(parseCoordinatorToVolunteerMessage(escape)).field).toBe('model.files.0');
  });
});

describe('dashboard messages', () => {
  const state: SwarmState = {
    atMs: 1,
    model: { id: 'm', numBlocks: 5, blockBytes: 10, cacheBytesPerBlock: 4, maxSessionTokens: 512, filesPath: '/models/m/', files: [] },
    routingPolicy: 'jffc',
    placement: { policy: 'bprr', perTokenMs: 3, computedAtMs: 1, uncoveredBlocks: [] },
    volunteers: [
      {
        peerId: 'a',
        state: 'serving',
        span: { start: 0, end: 5 },
        assignedSpan: { start: 0, end: 5 },
        load: { activeSessions: 0, freeCacheSlots: 5, state: 'serving' },
        decodeMsPerBlock: 1,
        prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 },
        memoryBytes: 100,
        backend: 'webgpu',
        cacheSlots: 5,
        leasedSlots: 0,
        joinedAtMs: 1,
        lastHeartbeatAtMs: 1,
        probation: true,
      },
    ],
    predictions: [{ policy: 'bprr', perTokenMs: 3 }, { policy: 'petals', perTokenMs: null, error: 'infeasible' }],
    recentRoutes: [],
    queueLength: 0,
    activeLeases: 0,
  };

  it('round-trips a snapshot and an event', () => {
    expect(value(parseSwarmState(JSON.parse(JSON.stringify(state))))).toEqual(state);
    expect(value(parseDashboardMessage({ type: 'snapshot', state })).type).toBe('snapshot');
    const ev = { type: 'event', atMs: 2, event: { type: 'volunteer-left', peerId: 'a', reason: 'timeout' } };
    expect(value(parseDashboardMessage(ev))).toEqual(ev);
  });

  it('names the field of a broken volunteer view', () => {
    const broken = { ...state, volunteers: [{ ...state.volunteers[0], backend: 'npu' }] };
    expect(failure(parseSwarmState(broken)).field).toBe('volunteers.0.backend');
  });
});

describe('placement policy switch', () => {
  it('parses the request and the answer, keeping a refusal\'s code', () => {
    expect(value(parsePlacementPolicyRequest({ policy: 'gbp-cr' }))).toEqual({ policy: 'gbp-cr' });
    expect(failure(parsePlacementPolicyRequest({ policy: 3 })).field).toBe('policy');
    const answer = { kind: 'placement-policy', placement: { policy: 'gbp-cr', perTokenMs: 4, computedAtMs: 1, uncoveredBlocks: [] }, moved: ['a'] };
    expect(value(parsePlacementPolicyChanged(answer))).toEqual(answer);
    expect(failure(parsePlacementPolicyChanged({ kind: 'error', error: { code: 'infeasible', message: 'no' } })).code).toBe('infeasible');
  });
});

describe('errors and paths', () => {
  it('rebuilds the error class from the wire', () => {
    const e = new CoordinatorApiError('lease-expired', 'lease L timed out');
    const back = apiErrorFromWire(JSON.parse(JSON.stringify(e.toWire())) as ReturnType<typeof e.toWire>);
    expect(back).toBeInstanceOf(CoordinatorApiError);
    expect(back.code).toBe('lease-expired');
    expect(httpStatusForCode('lease-expired')).toBe(410);
    expect(httpStatusForCode('bad-request')).toBe(400);
  });

  it('encodes ids in paths', () => {
    expect(routeReleasePath('a/b')).toBe('/api/routes/a%2Fb/release');
    expect(modelFilePath('m', 'dir/x y.bin')).toBe('/models/m/dir/x%20y.bin');
  });
});
