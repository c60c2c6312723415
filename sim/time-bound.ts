// The time-indexed capacity bound on one run's mean response: one-hop sessions limited by each server's memory in every time slot, under the run's actual arrivals and churn, as an LP solved with HiGHS.
import { BouquetError } from '../core/errors/index.ts';
import { loadHighs } from '../core/placement/index.ts';
import type { SwarmSnapshot } from '../core/swarm/index.ts';
import type { SimRequest } from './arrivals.ts';
import { roomBesideAllBlocks } from './capacity-bound.ts';
import type { ChurnTraceEntry } from './engine-types.ts';
import { fastestChainsMs, hopCosts, sessionCacheUnits } from './lower-bound.ts';

/** Options of `timeIndexedLowerBound`. */
export interface TimeBoundOptions {
  /** Length of a memory slot, ms (default 1000): a session counts in the slots its service surely covers whole. */
  slotMs?: number;
  /**
   * Edges of the start-delay buckets, ms, ascending from 0 (default 0, 500, 1500, 3000, 5500): a request
   * starts at its arrival, or within one bucket [d_k, d_k+1), or later than the last edge ("late").
   */
  delayEdgesMs?: readonly number[];
}

/** The time-indexed bound over one run. */
export interface TimeLowerBound {
  /** Mean over requests, ms: no schedule of this run that fails no session over can have a lower mean response (see `timeIndexedLowerBound`). */
  meanMs: number;
  /** The LP's size: columns, rows, nonzeros. */
  columns: number;
  rows: number;
  nonzeros: number;
}

/** Default start-delay bucket edges, ms. */
export const timeBoundDelayEdgesMs: readonly number[] = [0, 500, 1500, 3000, 5500];

/** The intervals [from, to) each server is offline, ms, from a run's leaves and joins (every server starts online). */
export function offlineIntervals(churn: readonly ChurnTraceEntry[]): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  const leftAt = new Map<string, number>();
  for (const e of [...churn].sort((a, b) => a.atMs - b.atMs)) {
    if (e.kind === 'server-leave') {
      if (!leftAt.has(e.serverId)) leftAt.set(e.serverId, e.atMs);
      continue;
    }
    const from = leftAt.get(e.serverId);
    if (from === undefined) continue;
    leftAt.delete(e.serverId);
    out.set(e.serverId, [...(out.get(e.serverId) ?? []), [from, e.atMs]]);
  }
  for (const [id, from] of leftAt) out.set(id, [...(out.get(id) ?? []), [from, Infinity]]);
  return out;
}

/**
 * A lower bound on one run's mean response, ms, that sees memory through time: the relaxed bound's
 * chains (sim/lower-bound.ts, nominal speeds), where a request on a one-hop chain holds its session's
 * cache (`sessionCacheUnits` of its own tokens) on that server for its whole service S_rj, and a server
 * holds at once only whole sessions within its room beside all L blocks (`roomBesideAllBlocks`), and
 * none while it is offline (the run's actual churn; every server starts online). Each request takes
 * one option: one hop on server j starting at its arrival or within a start-delay bucket [d_k, d_k+1)
 * (cost d_k + S_rj; the session surely covers [a + d_k+1, a + d_k + S_rj], and it counts in the memory
 * slots that interval covers whole); the fastest chain of ≥ 2 hops (no memory limit, optimistic); or
 * "late", after the last edge (cost that edge + its relaxed bound, no memory). An LP over fractions of
 * requests: each option's relaxation only widens what is feasible (shorter occupancy, earlier cost,
 * fractional sessions), so its optimum is below the mean of any schedule on this run that serves each
 * request on one chain from start to end. It is clairvoyant: it knows every arrival and when each
 * volunteer leaves, so it never fails a session over. A run with failovers is not covered exactly: a
 * failed-over request is served on two servers in turn (its tokens kept, a replay on the second), which
 * holds each one's memory for only part of its service; on 20 tiny churn instances (tests/sim) two runs
 * with 3 and 7 failovers came out 0.2 % and 1.2 % below it.
 * Memory rows are written as per-slot balances (a level column per server and slot, bounded by its
 * room), so a session adds two nonzeros, not one per slot. Options a cheaper unlimited one dominates
 * are left out: they cannot lower the optimum.
 */
export async function timeIndexedLowerBound(
  snapshot: SwarmSnapshot,
  requests: readonly SimRequest[],
  churn: readonly ChurnTraceEntry[],
  options: TimeBoundOptions = {},
): Promise<TimeLowerBound> {
  const slotMs = options.slotMs ?? 1000;
  const edges = options.delayEdgesMs ?? timeBoundDelayEdgesMs;
  if (!(slotMs > 0) || edges[0] !== 0 || edges.some((d, k) => k > 0 && !(d > (edges[k - 1] ?? 0)))) {
    throw new BouquetError('bad-request', 'timeIndexedLowerBound: slotMs must be positive and delayEdgesMs ascend from 0');
  }
  const R = requests.length;
  if (R === 0) return { meanMs: 0, columns: 0, rows: 0, nonzeros: 0 };
  const L = snapshot.model.numBlocks;
  // Per (client, lengths): one-hop services per server, the ≥ 2-hop chain, the relaxed bound, the session's units.
  const classes = new Map<string, { oneHop: { server: number; serviceMs: number }[]; multiHopMs: number; fastestMs: number; units: number }>();
  const serverIndex = new Map(snapshot.servers.map((s, j) => [s.id, j]));
  const classOf = (r: SimRequest): { oneHop: { server: number; serviceMs: number }[]; multiHopMs: number; fastestMs: number; units: number } => {
    const key = `${r.clientId}\u0000${r.inputTokens}\u0000${r.outputTokens}`;
    let c = classes.get(key);
    if (c === undefined) {
      const hops = hopCosts(snapshot, r.clientId, r.inputTokens, r.outputTokens);
      const chains = fastestChainsMs(hops, L);
      const oneHop = hops.filter((h) => h.maxBlocks >= L).map((h) => ({ server: serverIndex.get(h.serverId) ?? -1, serviceMs: h.fixedMs + L * h.perBlockMs }));
      c = { oneHop, multiHopMs: chains.multiHopMs, fastestMs: chains.anyMs, units: sessionCacheUnits(snapshot.model, r.inputTokens + r.outputTokens).units };
      classes.set(key, c);
    }
    return c;
  };
  for (const r of requests) if (!Number.isFinite(classOf(r).fastestMs)) return { meanMs: Infinity, columns: 0, rows: 0, nonzeros: 0 };
  const room = roomBesideAllBlocks(snapshot, [...classes.values()].map((c) => c.units));
  const lastEdge = edges[edges.length - 1] ?? 0;
  // One-hop options worth keeping, with the slots [j0, j1) their session surely covers whole.
  interface Option { request: number; server: number; costMs: number; j0: number; j1: number; units: number }
  const kept: Option[] = [];
  let slots = 1;
  requests.forEach((r, ri) => {
    const c = classOf(r);
    const unlimitedMs = Math.min(c.multiHopMs, lastEdge + c.fastestMs);
    for (const o of c.oneHop) {
      if (!((room.units[o.server] ?? 0) >= c.units)) continue;
      for (let k = 0; k < edges.length; k++) {
        const d0 = k === 0 ? 0 : (edges[k - 1] ?? 0);
        const d1 = edges[k] ?? 0;
        const costMs = d0 + o.serviceMs;
        if (costMs >= unlimitedMs) break;
        const j0 = Math.ceil((r.arrivalMs + d1) / slotMs);
        const j1 = Math.max(j0, Math.floor((r.arrivalMs + d0 + o.serviceMs) / slotMs));
        slots = Math.max(slots, j1 + 1);
        kept.push({ request: ri, server: o.server, costMs, j0, j1, units: c.units });
      }
    }
  });
  const servers = [...new Set(kept.map((o) => o.server))].sort((a, b) => a - b);
  const serverRow = new Map(servers.map((j, i) => [j, i]));
  const rowOf = (server: number, slot: number): number => R + (serverRow.get(server) ?? 0) * slots + slot;
  const offline = offlineIntervals(churn);
  // Columns in CSC form: cost, bounds, and (row, value) entries in row order.
  const cost: number[] = [];
  const upper: number[] = [];
  const starts: number[] = [0];
  const indices: number[] = [];
  const values: number[] = [];
  const column = (costMs: number, ub: number, entries: readonly [number, number][]): void => {
    cost.push(costMs / R);
    upper.push(ub);
    for (const [row, v] of [...entries].sort((a, b) => a[0] - b[0])) {
      indices.push(row);
      values.push(v);
    }
    starts.push(indices.length);
  };
  const byRequest = new Map<number, Option[]>();
  for (const o of kept) {
    const list = byRequest.get(o.request);
    if (list === undefined) byRequest.set(o.request, [o]);
    else list.push(o);
  }
  requests.forEach((r, ri) => {
    const c = classOf(r);
    for (const o of byRequest.get(ri) ?? []) {
      const entries: [number, number][] = [[ri, 1]];
      // Its units join the level at slot j0 and leave it at j1 (balance rows: level_j − level_j−1 = joins − leaves).
      if (o.j1 > o.j0) entries.push([rowOf(o.server, o.j0), -o.units], [rowOf(o.server, o.j1), o.units]);
      column(o.costMs, Infinity, entries);
    }
    if (Number.isFinite(c.multiHopMs)) column(c.multiHopMs, Infinity, [[ri, 1]]);
    column(lastEdge + c.fastestMs, Infinity, [[ri, 1]]);
  });
  for (const j of servers) {
    const id = snapshot.servers[j]?.id ?? '';
    const down = offline.get(id) ?? [];
    for (let t = 0; t < slots; t++) {
      const from = t * slotMs;
      const to = from + slotMs;
      const online = !down.some(([a, b]) => a < to && b > from);
      const entries: [number, number][] = [[rowOf(j, t), 1]];
      if (t + 1 < slots) entries.push([rowOf(j, t + 1), -1]);
      column(0, online ? (room.units[j] ?? 0) : 0, entries);
    }
  }
  const numCols = cost.length;
  const numRows = R + servers.length * slots;
  const solver = await loadHighs();
  const inf = solver.infinity;
  const out = solver.withModel(
    {
      numCols,
      numRows,
      colCost: cost,
      colLower: new Array<number>(numCols).fill(0),
      colUpper: upper.map((u) => (Number.isFinite(u) ? u : inf)),
      rowLower: [...new Array<number>(R).fill(1), ...new Array<number>(numRows - R).fill(0)],
      rowUpper: [...new Array<number>(R).fill(1), ...new Array<number>(numRows - R).fill(0)],
      matrix: { format: 'csc', numRows, numCols, starts, indices, values },
    },
    (m) => {
      m.options.set({ output_flag: false });
      m.run();
      return { status: m.getModelStatus(), objective: m.getObjectiveValue() };
    },
  );
  // Always feasible (the late option takes any request; levels may stay 0), so anything else is a bug.
  if (out.status !== solver.constants.modelStatus.optimal) throw new BouquetError('internal', `the time-bound LP ended with HiGHS status ${out.status}`);
  return { meanMs: out.objective, columns: numCols, rows: numRows, nonzeros: indices.length };
}

/**
 * The churn traces of one seed's runs that the bound must be taken over: runs of different policies
 * draw the same churn (sim/churn.ts draws only from the churn stream), but each records it only up to
 * its own end, so a trace that is a prefix of a longer one adds nothing (a policy's sessions all lie
 * before its end, where the longer trace agrees). Traces that disagree are all kept; the bound over
 * several is the least of theirs.
 */
export function distinctChurnTraces(traces: readonly (readonly ChurnTraceEntry[])[]): (readonly ChurnTraceEntry[])[] {
  const same = (a: ChurnTraceEntry, b: ChurnTraceEntry): boolean => a.kind === b.kind && a.serverId === b.serverId && a.atMs === b.atMs;
  const isPrefix = (short: readonly ChurnTraceEntry[], long: readonly ChurnTraceEntry[]): boolean =>
    short.length <= long.length && short.every((e, i) => long[i] !== undefined && same(e, long[i]));
  const kept: (readonly ChurnTraceEntry[])[] = [];
  for (const t of [...traces].sort((a, b) => b.length - a.length)) if (!kept.some((k) => isPrefix(t, k))) kept.push(t);
  return kept;
}
