// Dashboard model: a snapshot and the coordinator's events fold into the map, coverage, routes and feed the page draws.
import { describe, expect, it } from 'vitest';
import type { RouteRecord, SwarmState, VolunteerView } from '../../../../core/api/index.ts';
import {
  applySwarmEvent,
  blockCoverage,
  departedKeepMs,
  expireDeparted,
  histogram,
  latencySamples,
  loadFraction,
  modelFromSnapshot,
  rankPredictions,
} from '../../../../web/app/dashboard/swarm-model.ts';

function volunteer(peerId: string, start: number, end: number, over: Partial<VolunteerView> = {}): VolunteerView {
  return {
    peerId,
    state: 'serving',
    span: { start, end },
    assignedSpan: { start, end },
    load: { activeSessions: 0, freeCacheSlots: 8, state: 'serving' },
    decodeMsPerBlock: 2,
    prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 },
    memoryBytes: 1 << 30,
    backend: 'wasm',
    cacheSlots: 8,
    leasedSlots: 0,
    joinedAtMs: 1000,
    lastHeartbeatAtMs: 1000,
    probation: false,
    ...over,
  };
}

function route(leaseTag: string, over: Partial<RouteRecord> = {}): RouteRecord {
  return {
    leaseTag,
    clientId: 'c1',
    chain: [{ peerId: 'a', span: { start: 0, end: 5 } }],
    policy: 'jffc',
    promptTokens: 4,
    maxNewTokens: 10,
    predicted: { computeMs: 80, transferMs: 20, waitingMs: 0, totalMs: 100 },
    queuedMs: 0,
    grantedAtMs: 2000,
    outcome: 'active',
    ...over,
  };
}

function state(volunteers: VolunteerView[]): SwarmState {
  return {
    atMs: 1000,
    model: { id: 'stories260K', numBlocks: 5, blockBytes: 1000, cacheBytesPerBlock: 100, maxSessionTokens: 256, filesPath: '/models/stories260K/', files: [] },
    routingPolicy: 'jffc',
    placement: { policy: 'bprr', perTokenMs: 10, computedAtMs: 1000, uncoveredBlocks: [] },
    volunteers,
    predictions: [
      { policy: 'petals', perTokenMs: 14 },
      { policy: 'milp', perTokenMs: null, error: 'too many servers' },
      { policy: 'bprr', perTokenMs: 10 },
    ],
    recentRoutes: [],
    queueLength: 0,
    activeLeases: 0,
  };
}

describe('swarm map', () => {
  it('counts servers and spare full-span sessions per block, and volunteers still loading', () => {
    const s = state([
      volunteer('a', 0, 3, { load: { activeSessions: 1, freeCacheSlots: 6, state: 'serving' } }),
      volunteer('b', 2, 5),
      volunteer('c', 0, 0, { state: 'loading', span: null, assignedSpan: { start: 3, end: 5 } }),
    ]);
    const cov = blockCoverage(s);
    expect(cov.map((c) => c.servers)).toEqual([1, 1, 2, 1, 1]);
    // a: 6 free slots over 3 blocks → 2 sessions; b: 8 over 3 → 2.
    expect(cov.map((c) => c.spareSessions)).toEqual([2, 2, 4, 2, 2]);
    expect(cov.map((c) => c.loading)).toEqual([0, 0, 0, 1, 1]);
  });

  it('shows an uncovered block as zero servers', () => {
    const cov = blockCoverage(state([volunteer('a', 0, 2)]));
    expect(cov.filter((c) => c.servers === 0).map((c) => c.block)).toEqual([2, 3, 4]);
  });

  it('colours by the larger of reported and leased cache use', () => {
    expect(loadFraction(volunteer('a', 0, 1))).toBe(0);
    expect(loadFraction(volunteer('a', 0, 1, { load: { activeSessions: 2, freeCacheSlots: 2, state: 'serving' } }))).toBe(0.75);
    expect(loadFraction(volunteer('a', 0, 1, { leasedSlots: 8 }))).toBe(1);
  });
});

describe('events', () => {
  it('adds a joining volunteer, updates it in place, and logs state changes but not load-only heartbeats', () => {
    let m = modelFromSnapshot(state([]));
    m = applySwarmEvent(m, 2000, { type: 'volunteer-joined', volunteer: volunteer('a', 0, 0, { state: 'loading', span: null }) });
    expect(m.state.volunteers.map((v) => v.peerId)).toEqual(['a']);
    m = applySwarmEvent(m, 2100, { type: 'volunteer-updated', volunteer: volunteer('a', 0, 5) });
    expect(m.state.volunteers[0]?.span).toEqual({ start: 0, end: 5 });
    const lines = m.activity.length;
    m = applySwarmEvent(m, 2200, { type: 'volunteer-updated', volunteer: volunteer('a', 0, 5, { leasedSlots: 3 }) });
    expect(m.activity.length).toBe(lines);
    expect(m.activity.map((l) => l.kind)).toEqual(['snapshot', 'join', 'update']);
    expect(m.activity[0]?.text).toBe('connected: 0 volunteers (0 serving), placement by bprr, routing by jffc');
    expect(m.activity[2]?.text).toContain('serving');
  });

  it('keeps a departed volunteer on the map, marked, until it expires', () => {
    let m = modelFromSnapshot(state([volunteer('a', 0, 5), volunteer('b', 0, 5)]));
    m = applySwarmEvent(m, 5000, { type: 'volunteer-left', peerId: 'b', reason: 'timeout' });
    expect(m.state.volunteers.map((v) => v.peerId)).toEqual(['a']);
    expect(m.departed.map((d) => [d.volunteer.peerId, d.reason])).toEqual([['b', 'timeout']]);
    expect(m.activity.at(-1)?.text).toBe('b left (heartbeat timed out)');
    expect(expireDeparted(m, 5000 + departedKeepMs - 1).departed).toHaveLength(1);
    expect(expireDeparted(m, 5000 + departedKeepMs).departed).toHaveLength(0);
  });

  it('takes a volunteer that rejoins off the departed list', () => {
    let m = modelFromSnapshot(state([volunteer('a', 0, 5)]));
    m = applySwarmEvent(m, 5000, { type: 'volunteer-left', peerId: 'a', reason: 'disconnect' });
    m = applySwarmEvent(m, 5100, { type: 'volunteer-joined', volunteer: volunteer('a', 0, 5) });
    expect(m.departed).toHaveLength(0);
    expect(m.state.volunteers).toHaveLength(1);
  });

  it('records a route once, then updates it when it is released with measured times', () => {
    let m = modelFromSnapshot(state([volunteer('a', 0, 5)]));
    m = applySwarmEvent(m, 2000, { type: 'route', route: route('L1', { queuedMs: 40 }), queueLength: 1, activeLeases: 1 });
    expect(m.state.queueLength).toBe(1);
    expect(m.activity.at(-1)?.text).toBe('route a 0–4 by jffc after 40 ms in queue');
    m = applySwarmEvent(m, 3000, {
      type: 'route',
      route: route('L1', { queuedMs: 40, outcome: 'released', endedAtMs: 3000, measured: { totalMs: 250, tokens: 10, firstTokenMs: 60 } }),
      queueLength: 0,
      activeLeases: 0,
    });
    expect(m.routes).toHaveLength(1);
    expect(m.routes[0]?.outcome).toBe('released');
    expect(m.activity.filter((l) => l.kind === 'route')).toHaveLength(1);
    expect(latencySamples(m.routes)).toEqual([{ atS: 3, predictedMsPerToken: 10, measuredMsPerToken: 25, firstTokenMs: 60, queuedMs: 40 }]);
  });

  it('logs a placement decision with who moved and what it predicts', () => {
    let m = modelFromSnapshot(state([volunteer('a', 0, 5)]));
    m = applySwarmEvent(m, 2000, { type: 'placement', placement: { policy: 'gbp-cr', perTokenMs: 8.5, computedAtMs: 2000, uncoveredBlocks: [] }, moved: ['a'] });
    expect(m.state.placement.policy).toBe('gbp-cr');
    expect(m.activity.at(-1)?.text).toBe('placement by gbp-cr: moved a, predicts 8.5 ms/token');
  });

  it('keeps route history across a reconnect snapshot', () => {
    let m = modelFromSnapshot(state([]));
    m = applySwarmEvent(m, 2000, { type: 'route', route: route('L1'), queueLength: 0, activeLeases: 1 });
    const again = modelFromSnapshot({ ...state([]), recentRoutes: [route('L2', { grantedAtMs: 2500 })] }, m);
    expect(again.routes.map((r) => r.leaseTag)).toEqual(['L1', 'L2']);
  });
});

describe('charts and ranking', () => {
  it('bins values over their range', () => {
    expect(histogram([1, 2, 3, 5], 2)).toEqual({ edges: [1, 3], counts: [2, 2] });
    expect(histogram([4, 4], 3).counts).toEqual([2, 0, 0]);
    expect(histogram([], 4)).toEqual({ edges: [], counts: [] });
  });

  it('ranks policies best first, those that cannot place last', () => {
    expect(rankPredictions(state([]).predictions).map((p) => p.policy)).toEqual(['bprr', 'petals', 'milp']);
  });
});
