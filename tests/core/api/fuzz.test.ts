// Bounded fuzz of every coordinator API message: seeded mutations of valid messages give a typed value within the bounds or a coded error, never a throw.
import { describe, expect, it } from 'vitest';
import {
  apiBounds,
  encodeJson,
  parseApiErrorBody,
  parseCoordinatorToVolunteerMessage,
  parseDashboardMessage,
  parsePlacementPolicyChanged,
  parsePlacementPolicyRequest,
  parseRouteReleased,
  parseRouteReleaseRequest,
  parseRouteRenewed,
  parseRouteRequest,
  parseRouteResponse,
  parseSwarmState,
  parseVolunteerMessage,
  type Parsed,
  type SwarmState,
} from '../../../core/api/index.ts';
import { isBouquetError, isErrorCode } from '../../../core/errors/index.ts';
import { seededRandom, type Random } from '../../../core/random/index.ts';

const span = { start: 0, end: 5 };
const view = {
  peerId: 'a',
  state: 'serving',
  span,
  assignedSpan: span,
  load: { activeSessions: 0, freeCacheSlots: 5, state: 'serving' },
  decodeMsPerBlock: 1,
  prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 },
  memoryBytes: 100,
  backend: 'webgpu',
  cacheSlots: 5,
  leasedSlots: 0,
  joinedAtMs: 1,
  lastHeartbeatAtMs: 1,
  probation: false,
};
const predicted = { computeMs: 1, transferMs: 2, waitingMs: 0, totalMs: 3 };
const routeRecord = {
  leaseTag: 'l', clientId: 'c', chain: [{ peerId: 'a', span }], policy: 'jffc', promptTokens: 4, maxNewTokens: 8,
  predicted, queuedMs: 0, grantedAtMs: 1, outcome: 'released', measured: { totalMs: 9, tokens: 8, firstTokenMs: 2 }, endedAtMs: 2,
};
const placement = { policy: 'bprr', perTokenMs: 3, computedAtMs: 1, uncoveredBlocks: [] };
const state: SwarmState = {
  atMs: 1,
  model: { id: 'm', numBlocks: 5, blockBytes: 10, cacheBytesPerBlock: 4, maxSessionTokens: 512, filesPath: '/models/m/', files: ['a.onnx'] },
  routingPolicy: 'jffc',
  placement: { policy: 'bprr', perTokenMs: 3, computedAtMs: 1, uncoveredBlocks: [] },
  volunteers: [view as SwarmState['volunteers'][number]],
  predictions: [{ policy: 'bprr', perTokenMs: 3 }, { policy: 'milp', perTokenMs: null, pending: true }],
  recentRoutes: [routeRecord as SwarmState['recentRoutes'][number]],
  queueLength: 0,
  activeLeases: 0,
  loopLag: { recentMaxMs: 3, lostMs: 10 },
};

/** Peer → coordinator: what a stranger sends, parsed values must lie within apiBounds. */
const fromPeers: { name: string; parse: (raw: unknown) => Parsed<unknown>; samples: unknown[] }[] = [
  {
    name: 'volunteer message',
    parse: parseVolunteerMessage,
    samples: [
      {
        type: 'register', peerId: 'v', publicKey: 'pk', memoryBytes: 1e9, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 3 },
        backend: 'wasm', modelId: 'm', protocolVersion: 1, loadedSpan: span,
      },
      { type: 'heartbeat', load: { activeSessions: 1, freeCacheSlots: 4, state: 'serving' } },
      { type: 'ready', assignmentId: 3, span },
      { type: 'leave' },
    ],
  },
  {
    name: 'route request',
    parse: parseRouteRequest,
    samples: [{ clientId: 'c', promptTokens: 4, maxNewTokens: 8, rttMs: { a: 12, b: 30 }, excludePeers: ['x'], span, modelId: 'm' }],
  },
  { name: 'release request', parse: parseRouteReleaseRequest, samples: [{ leaseSecret: 's3cret', measured: { totalMs: 9, tokens: 8, firstTokenMs: 2 } }, { leaseSecret: 's3cret' }] },
  { name: 'policy request', parse: parsePlacementPolicyRequest, samples: [{ policy: 'bprr' }] },
];

/** Coordinator → peers: what a client, volunteer or dashboard reads back. */
const fromCoordinator: { name: string; parse: (raw: unknown) => Parsed<unknown>; samples: unknown[] }[] = [
  {
    name: 'coordinator → volunteer',
    parse: parseCoordinatorToVolunteerMessage,
    samples: [
      { type: 'registered', peerId: 'v', coordinatorKey: 'Y29vcmRpbmF0b3Ita2V5', model: state.model, heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10_000 },
      { type: 'assignment', assignmentId: 1, modelId: 'm', span, reason: 'join', cacheSlots: 4 },
      { type: 'error', error: { code: 'bad-request', message: 'x', field: 'memoryBytes' } },
    ],
  },
  {
    name: 'route response',
    parse: parseRouteResponse,
    samples: [
      { kind: 'route', leaseId: 'l', leaseSecret: 's', leaseToken: 't.t', leaseTag: 'abc', chain: [{ peerId: 'a', span }], expiresAtMs: 5, leaseMs: 100, predicted, policy: 'jffc', modelId: 'm' },
      { kind: 'queued', ticketId: 't', position: 1, queueLength: 2 },
      { kind: 'error', error: { code: 'no-route', message: 'none' } },
    ],
  },
  { name: 'released', parse: parseRouteReleased, samples: [{ kind: 'released', leaseId: 'l' }, { kind: 'error', error: { code: 'unknown-lease', message: 'x' } }] },
  { name: 'renewed', parse: parseRouteRenewed, samples: [{ kind: 'renewed', leaseId: 'l', expiresAtMs: 3 }] },
  { name: 'error body', parse: parseApiErrorBody, samples: [{ code: 'internal', message: 'm', kind: 'BouquetError', data: { a: 1 } }] },
  { name: 'swarm state', parse: parseSwarmState, samples: [state] },
  {
    name: 'dashboard message',
    parse: parseDashboardMessage,
    samples: [
      { type: 'snapshot', state },
      { type: 'event', atMs: 2, event: { type: 'route', route: routeRecord, queueLength: 0, activeLeases: 1 } },
      { type: 'event', atMs: 2, event: { type: 'placement', placement, moved: ['a'] } },
      { type: 'event', atMs: 2, event: { type: 'loop-lag', loopLag: { recentMaxMs: 1, lostMs: 2 } } },
      { type: 'event', atMs: 2, event: { type: 'volunteer-joined', volunteer: view } },
    ],
  },
  { name: 'policy changed', parse: parsePlacementPolicyChanged, samples: [{ kind: 'placement-policy', placement, moved: [] }] },
];

/** Values an attacker would try in any position. */
function nasty(rnd: Random, depth = 0): unknown {
  const pick = Math.floor(rnd.next() * 22);
  switch (pick) {
    case 0: return 1e308;
    case 1: return -1;
    case 2: return Number.NaN;
    case 3: return Infinity;
    case 4: return 1.2e12;
    case 5: return 1e15;
    case 6: return 1e-6;
    case 7: return 0.5;
    case 8: return 2 ** 53 + 2;
    case 9: return '';
    case 10: return 'x'.repeat(300 + Math.floor(rnd.next() * 10_000));
    case 11: return null;
    case 12: return undefined;
    case 13: return true;
    case 14: return [];
    case 15: return {};
    case 16: return depth < 3 ? { nested: nasty(rnd, depth + 1) } : 'deep';
    case 17: return depth < 3 ? [nasty(rnd, depth + 1), nasty(rnd, depth + 1)] : 0;
    case 18: return Math.floor(rnd.next() * 20_000);
    case 19: return -0;
    case 20: return '__proto__';
    default: return rnd.next() * 1e7;
  }
}

/** Every path (of keys) into a JSON-like value. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

/** A copy of `sample` with one to three positions replaced, removed, or given an extra key. */
function mutate(sample: unknown, rnd: Random): unknown {
  let v: unknown = structuredClone(sample);
  const n = 1 + Math.floor(rnd.next() * 3);
  for (let i = 0; i < n; i++) {
    const all = paths(v);
    const path = all[Math.floor(rnd.next() * all.length)] ?? [];
    if (path.length === 0) {
      v = rnd.next() < 0.8 ? v : nasty(rnd);
      continue;
    }
    let parent = v as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const last = path[path.length - 1] as string | number;
    const r = rnd.next();
    if (r < 0.7) parent[last] = nasty(rnd);
    else if (r < 0.85) delete parent[last];
    else if (typeof parent === 'object' && parent !== null) parent[`extra${i}`] = nasty(rnd);
  }
  return v;
}

/** Numbers in a value, with their paths. */
function numbers(v: unknown, path = ''): { path: string; n: number }[] {
  if (typeof v === 'number') return [{ path, n: v }];
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => numbers(x, path === '' ? k : `${path}.${k}`));
}

/** The bound each peer-sent number must respect, by the last segment of its path. */
function bound(path: string): number {
  const key = path.split('.').pop() ?? '';
  if (key === 'memoryBytes') return apiBounds.maxMemoryBytes;
  if (key === 'assignmentId' || key === 'protocolVersion') return apiBounds.maxSerial;
  if (key === 'totalMs' || key === 'firstTokenMs') return apiBounds.maxRequestMs;
  if (key === 'promptTokens' || key === 'maxNewTokens' || key === 'tokens') return apiBounds.maxTokens;
  if (key === 'start' || key === 'end') return apiBounds.maxBlocks;
  if (key === 'activeSessions' || key === 'freeCacheSlots') return apiBounds.maxCount;
  if (path.startsWith('rttMs.')) return apiBounds.maxRttMs;
  return apiBounds.maxStepMs; // decodeMsPerBlock, prefill terms
}

const casesPerSample = 400;

function fuzz(parse: (raw: unknown) => Parsed<unknown>, samples: unknown[], seed: number, check: (value: unknown) => void): { ok: number; refused: number } {
  const rnd = seededRandom(seed);
  let ok = 0;
  let refused = 0;
  for (const sample of samples) {
    // The sample itself is valid (an error answer is the server's refusal: ok false with its code).
    const base = parse(structuredClone(sample));
    expect(base.ok || (sample as { kind?: string }).kind === 'error').toBe(true);
    for (let i = 0; i < casesPerSample; i++) {
      const raw = mutate(sample, rnd);
      let parsed: Parsed<unknown>;
      try {
        parsed = parse(raw);
      } catch (e) {
        throw new Error(`parser threw on ${encodeJsonLoose(raw)}: ${String(e)}`);
      }
      if (parsed.ok) {
        ok++;
        check(parsed.value);
      } else {
        refused++;
        expect(isBouquetError(parsed.error)).toBe(true);
        expect(isErrorCode(parsed.error.code)).toBe(true);
      }
    }
  }
  return { ok, refused };
}

function encodeJsonLoose(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))?.slice(0, 300) ?? 'undefined';
}

describe('bounded fuzz of the coordinator API', () => {
  for (const [i, { name, parse, samples }] of fromPeers.entries()) {
    it(`${name}: a typed value within apiBounds, or bad-request`, () => {
      const { ok, refused } = fuzz(parse, samples, 1000 + i, (value) => {
        for (const { path, n } of numbers(value)) {
          expect(Number.isFinite(n), path).toBe(true);
          expect(n, path).toBeGreaterThanOrEqual(0);
          expect(n, path).toBeLessThanOrEqual(bound(path));
        }
        expect(() => encodeJson(value)).not.toThrow();
      });
      expect(refused).toBeGreaterThan(0);
      expect(ok + refused).toBe(samples.length * casesPerSample);
    });
  }
  for (const [i, { name, parse, samples }] of fromCoordinator.entries()) {
    it(`${name}: a typed value with finite numbers, or a coded error`, () => {
      const { refused } = fuzz(parse, samples, 2000 + i, (value) => {
        for (const { path, n } of numbers(value)) expect(Number.isFinite(n), path).toBe(true);
      });
      expect(refused).toBeGreaterThan(0);
    });
  }

  it('the encoder at the boundary refuses a non-finite number with a coded error naming the key', () => {
    expect(encodeJson({ a: 1, b: [2] })).toBe('{"a":1,"b":[2]}');
    for (const bad of [Infinity, -Infinity, Number.NaN]) {
      let caught: unknown;
      try {
        encodeJson({ predicted: { totalMs: bad } });
      } catch (e) {
        caught = e;
      }
      expect(isBouquetError(caught, 'internal')).toBe(true);
      expect((caught as { data?: { field?: string } }).data?.field).toBe('totalMs');
    }
  });

  it('RTT reports above the bound are clamped, not refused', () => {
    const p = parseRouteRequest({ clientId: 'c', promptTokens: 1, maxNewTokens: 1, rttMs: { a: 1e308, b: 5 } });
    expect(p.ok && p.value.rttMs).toEqual({ a: apiBounds.maxRttMs, b: 5 });
  });
});
