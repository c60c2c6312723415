// Pure dashboard model: folds the coordinator's snapshot + events into what the dashboard draws (no DOM, no runes).
import type {
  LeaveReason,
  PolicyPrediction,
  RouteRecord,
  SwarmEvent,
  SwarmState,
  VolunteerView,
} from '../../../core/api/index.ts';
import { sameSpan } from '../../../core/swarm/index.ts';
import { formatBytes, formatSpan } from '../shared/format.ts';

/** How long a departed volunteer stays on the map (greyed, marked "left") before its row goes, ms. */
export const departedKeepMs = 8_000;
/** Routes kept for the table and the charts. */
export const maxRoutesKept = 500;
/** Activity lines kept. */
export const maxActivityKept = 200;

/** A volunteer that left, kept briefly so the map shows the departure as it happens. */
export interface DepartedVolunteer {
  volunteer: VolunteerView;
  reason: LeaveReason;
  leftAtMs: number;
}

/** One line of the activity feed: what changed and, for decisions, why. */
export interface ActivityLine {
  atMs: number;
  kind: 'snapshot' | 'join' | 'update' | 'leave' | 'placement' | 'route';
  text: string;
}

/** Everything the dashboard shows, derived from the coordinator's messages only. */
export interface DashboardModel {
  state: SwarmState;
  departed: DepartedVolunteer[];
  /** Routes by lease id, newest last (a route event updates its record in place). */
  routes: RouteRecord[];
  activity: ActivityLine[];
}

/** Starts a model from a snapshot (the socket's first message, or GET /api/swarm). */
export function modelFromSnapshot(state: SwarmState, previous?: DashboardModel): DashboardModel {
  // A reconnect brings a fresh snapshot: keep the route history and feed we had, add what is new.
  const routes = mergeRoutes(previous?.routes ?? [], state.recentRoutes);
  const serving = state.volunteers.filter((v) => v.state === 'serving' && v.span !== null).length;
  const line: ActivityLine = {
    atMs: state.atMs,
    kind: 'snapshot',
    text: `${previous === undefined ? 'connected' : 'reconnected'}: ${state.volunteers.length} volunteer${state.volunteers.length === 1 ? '' : 's'} (${serving} serving), placement by ${state.placement.policy}, routing by ${state.routingPolicy}`,
  };
  return { state, departed: previous?.departed ?? [], routes, activity: pushActivity(previous?.activity ?? [], line) };
}

function mergeRoutes(known: RouteRecord[], incoming: RouteRecord[]): RouteRecord[] {
  const byLease = new Map(known.map((r) => [r.leaseTag, r]));
  for (const r of incoming) byLease.set(r.leaseTag, r);
  const all = [...byLease.values()].sort((a, b) => a.grantedAtMs - b.grantedAtMs);
  return all.slice(-maxRoutesKept);
}

function upsertVolunteer(list: VolunteerView[], v: VolunteerView): VolunteerView[] {
  const i = list.findIndex((x) => x.peerId === v.peerId);
  if (i === -1) return [...list, v];
  const copy = list.slice();
  copy[i] = v;
  return copy;
}

function pushActivity(list: ActivityLine[], line: ActivityLine): ActivityLine[] {
  const next = [...list, line];
  return next.length > maxActivityKept ? next.slice(-maxActivityKept) : next;
}

/** Applies one coordinator event; returns a new model (inputs are not mutated). */
export function applySwarmEvent(model: DashboardModel, atMs: number, event: SwarmEvent): DashboardModel {
  const s = model.state;
  switch (event.type) {
    case 'volunteer-joined': {
      const v = event.volunteer;
      return {
        ...model,
        state: { ...s, atMs, volunteers: upsertVolunteer(s.volunteers, v) },
        departed: model.departed.filter((d) => d.volunteer.peerId !== v.peerId),
        activity: pushActivity(model.activity, {
          atMs,
          kind: 'join',
          text: `${v.peerId} joined (${v.backend}, ${formatBytes(v.memoryBytes)}, τ ${v.decodeMsPerBlock.toFixed(2)} ms/block)`,
        }),
      };
    }
    case 'volunteer-updated': {
      const v = event.volunteer;
      const before = s.volunteers.find((x) => x.peerId === v.peerId);
      const changes = before === undefined ? 'appeared' : describeVolunteerChange(before, v);
      return {
        ...model,
        state: { ...s, atMs, volunteers: upsertVolunteer(s.volunteers, v) },
        // Load-only heartbeats would flood the feed: log state and span changes only.
        activity:
          changes === ''
            ? model.activity
            : pushActivity(model.activity, { atMs, kind: 'update', text: `${v.peerId} ${changes}` }),
      };
    }
    case 'volunteer-left': {
      const gone = s.volunteers.find((x) => x.peerId === event.peerId);
      return {
        ...model,
        state: { ...s, atMs, volunteers: s.volunteers.filter((x) => x.peerId !== event.peerId) },
        departed:
          gone === undefined
            ? model.departed
            : [...model.departed.filter((d) => d.volunteer.peerId !== event.peerId), { volunteer: gone, reason: event.reason, leftAtMs: atMs }],
        activity: pushActivity(model.activity, { atMs, kind: 'leave', text: `${event.peerId} left (${leaveReasonText(event.reason)})` }),
      };
    }
    case 'placement': {
      const p = event.placement;
      const moved = event.moved.length === 0 ? 'no volunteer moved' : `moved ${event.moved.join(', ')}`;
      const predicted = p.perTokenMs === null ? '' : `, predicts ${p.perTokenMs.toFixed(1)} ms/token`;
      const failure = p.error === undefined ? '' : ` — failed: ${p.error.message}`;
      return {
        ...model,
        state: { ...s, atMs, placement: p },
        activity: pushActivity(model.activity, { atMs, kind: 'placement', text: `placement by ${p.policy}: ${moved}${predicted}${failure}` }),
      };
    }
    case 'predictions':
      return { ...model, state: { ...s, atMs, predictions: event.predictions } };
    case 'route': {
      const r = event.route;
      const known = model.routes.some((x) => x.leaseTag === r.leaseTag);
      const routes = mergeRoutes(model.routes, [r]);
      const recentRoutes = mergeRoutes(s.recentRoutes, [r]).slice(-Math.max(s.recentRoutes.length, 50));
      return {
        ...model,
        routes,
        state: { ...s, atMs, recentRoutes, queueLength: event.queueLength, activeLeases: event.activeLeases },
        activity: known
          ? model.activity
          : pushActivity(model.activity, {
              atMs,
              kind: 'route',
              text: `route ${r.chain.map((h) => `${h.peerId} ${formatSpan(h.span)}`).join(' → ')} by ${r.policy}` +
                (r.queuedMs > 0 ? ` after ${Math.round(r.queuedMs)} ms in queue` : ''),
            }),
      };
    }
    case 'queue':
      return { ...model, state: { ...s, atMs, queueLength: event.queueLength } };
    case 'loop-lag':
      return { ...model, state: { ...s, atMs, loopLag: event.loopLag } };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** Drops departed volunteers shown longer than `departedKeepMs`. */
export function expireDeparted(model: DashboardModel, nowMs: number): DashboardModel {
  const keep = model.departed.filter((d) => nowMs - d.leftAtMs < departedKeepMs);
  return keep.length === model.departed.length ? model : { ...model, departed: keep };
}

function describeVolunteerChange(a: VolunteerView, b: VolunteerView): string {
  const parts: string[] = [];
  if (a.state !== b.state) parts.push(`is ${b.state}`);
  if (!sameSpan(a.assignedSpan, b.assignedSpan)) parts.push(`assigned ${b.assignedSpan === null ? 'nothing' : `blocks ${formatSpan(b.assignedSpan)}`}`);
  if (!sameSpan(a.span, b.span)) parts.push(b.span === null ? 'serves nothing' : `serves blocks ${formatSpan(b.span)}`);
  return parts.join(', ');
}

function leaveReasonText(reason: LeaveReason): string {
  switch (reason) {
    case 'leave':
      return 'closed its tab';
    case 'timeout':
      return 'heartbeat timed out';
    case 'disconnect':
      return 'connection dropped';
    case 'replaced':
      return 'replaced by a new registration';
    default: {
      const never: never = reason;
      return never;
    }
  }
}

/** Share of a volunteer's cache slots in use, 0..1 (the larger of reported and leased use). */
export function loadFraction(v: VolunteerView): number {
  if (v.cacheSlots <= 0) return v.load.activeSessions > 0 ? 1 : 0;
  const reported = (v.cacheSlots - v.load.freeCacheSlots) / v.cacheSlots;
  const leased = v.leasedSlots / v.cacheSlots;
  return Math.min(1, Math.max(0, reported, leased));
}

/** One column of the swarm map: how well a block is served. */
export interface BlockCoverage {
  block: number;
  /** Serving volunteers that run this block. */
  servers: number;
  /** Volunteers loading it (assigned, not ready yet). */
  loading: number;
  /** Extra full-span sessions the block's servers could still admit (a session over k blocks holds k slots). */
  spareSessions: number;
}

/** Coverage and spare cache of every block 0..L-1. */
export function blockCoverage(state: SwarmState): BlockCoverage[] {
  const cols: BlockCoverage[] = Array.from({ length: state.model.numBlocks }, (_, block) => ({ block, servers: 0, loading: 0, spareSessions: 0 }));
  for (const v of state.volunteers) {
    if (v.span !== null && v.state !== 'loading') {
      const len = Math.max(1, v.span.end - v.span.start);
      const free = Math.max(0, Math.min(v.load.freeCacheSlots, v.cacheSlots - v.leasedSlots));
      const spare = Math.floor(free / len);
      for (let b = v.span.start; b < v.span.end; b++) {
        const c = cols[b];
        if (c === undefined) continue;
        c.servers += 1;
        c.spareSessions += spare;
      }
    } else if (v.assignedSpan !== null) {
      for (let b = v.assignedSpan.start; b < v.assignedSpan.end; b++) {
        const c = cols[b];
        if (c !== undefined) c.loading += 1;
      }
    }
  }
  return cols;
}

/** Per-token times of finished routes, for the charts: predicted and measured, ms per generated token. */
export interface LatencySample {
  /** When the route ended, Unix epoch seconds (uPlot's time axis). */
  atS: number;
  predictedMsPerToken: number;
  measuredMsPerToken: number;
  firstTokenMs: number | null;
  queuedMs: number;
}

/** Predicted vs measured per-token time of every route that reported measured times. */
export function latencySamples(routes: RouteRecord[]): LatencySample[] {
  const out: LatencySample[] = [];
  for (const r of routes) {
    const m = r.measured;
    if (m === undefined || m.tokens <= 0) continue;
    out.push({
      atS: (r.endedAtMs ?? r.grantedAtMs) / 1000,
      predictedMsPerToken: r.predicted.totalMs / Math.max(1, r.maxNewTokens),
      measuredMsPerToken: m.totalMs / m.tokens,
      firstTokenMs: m.firstTokenMs ?? null,
      queuedMs: r.queuedMs,
    });
  }
  return out.sort((a, b) => a.atS - b.atS);
}

/** Histogram over `values`: `count` equal-width bins spanning their range (bin i starts at edges[i]). */
export function histogram(values: number[], count: number): { edges: number[]; counts: number[] } {
  if (values.length === 0 || count < 1) return { edges: [], counts: [] };
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  // All equal: one narrow bin around the value rather than a zero width.
  const width = hi > lo ? (hi - lo) / count : Math.max(1e-3, Math.abs(lo) * 0.1);
  const edges = Array.from({ length: count }, (_, i) => lo + i * width);
  const counts = new Array<number>(count).fill(0);
  for (const v of values) {
    const i = Math.min(count - 1, Math.floor((v - lo) / width));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return { edges, counts };
}

/** Predictions sorted best first; policies without a prediction last. */
export function rankPredictions(predictions: PolicyPrediction[]): PolicyPrediction[] {
  return predictions.slice().sort((a, b) => (a.perTokenMs ?? Infinity) - (b.perTokenMs ?? Infinity));
}
