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
  /** Length of a memory slot, ms (default 500): a server's mean cache use over each slot stays within its room there. */
  slotMs?: number;
  /**
   * Edges of the start-delay buckets, ms, ascending from 0 (default `timeBoundDelayEdgesMs`): a request
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
export const timeBoundDelayEdgesMs: readonly number[] = [0, 25, 100, 250, 500, 1000, 1500, 3000, 5500];

/** How far below the reported optimum the bound is put, relative: more than the interior-point solver's tolerances can leave it above the exact one. */
const timeBoundSolverSlack = 1e-6;

/** Default memory slot, ms. */
export const timeBoundSlotMs = 500;

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
 * holds at once only sessions within its room beside all L blocks (`roomBesideAllBlocks`), and
 * none while it is offline (the run's actual churn; every server starts online). Each request takes
 * one option: one hop on server j starting at its arrival or within a start-delay bucket [d_k, d_k+1)
 * (cost d_k + S_rj; the session surely covers [a + d_k+1, a + d_k + S_rj], and it counts in the memory
 * slots in proportion to how much of each that interval covers); the fastest chain of ≥ 2 hops (no memory
 * limit, optimistic); or "late", after the last edge (cost that edge + its relaxed bound, no memory). In
 * each slot a server's mean use over the slot stays within its room times the slot's online fraction,
 * which any schedule keeping within its room at every instant does. An LP over fractions of requests:
 * each option's relaxation only widens what is feasible (shorter occupancy, earlier cost, fractional
 * sessions, use averaged over a slot), so its optimum is below the mean of any schedule on this run
 * that serves each request on one chain from start to end. The interior-point solver stops within its
 * tolerances (1e-8 relative gap, 1e-7 feasibility), so the optimum it reports is lowered by 1e-6 of itself. It is clairvoyant: it knows every arrival and when each
 * volunteer leaves, so it never fails a session over. A run with failovers is not covered exactly: a
 * failed-over request is served on two servers in turn (its tokens kept, a replay on the second), which
 * holds each one's memory for only part of its service; on 20 tiny churn instances (tests/sim) two runs
 * with 3 and 7 failovers came out 0.2 % and 1.7 % below it.
 * Memory is written as per-slot balances of the sessions a slot holds whole (a level column per server
 * and slot) plus the parts of the first and last slot each session covers, so a session adds at most
 * four nonzeros, not one per slot. Options a cheaper unlimited one dominates are left out: they cannot
 * lower the optimum. Solved by interior point without crossover (on browser-swarm's 2000 requests,
 * ~15× faster than the dual simplex, the same optimum to 1e-4 s).
 */
export async function timeIndexedLowerBound(
  snapshot: SwarmSnapshot,
  requests: readonly SimRequest[],
  churn: readonly ChurnTraceEntry[],
  options: TimeBoundOptions = {},
): Promise<TimeLowerBound> {
  const slotMs = options.slotMs ?? timeBoundSlotMs;
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
  // One-hop options worth keeping, with the interval [fromMs, toMs) their session surely covers.
  interface Option { request: number; server: number; costMs: number; fromMs: number; toMs: number; units: number }
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
        const fromMs = r.arrivalMs + d1;
        const toMs = Math.max(fromMs, r.arrivalMs + d0 + o.serviceMs);
        slots = Math.max(slots, Math.floor(toMs / slotMs) + 1);
        kept.push({ request: ri, server: o.server, costMs, fromMs, toMs, units: c.units });
      }
    }
  });
  const servers = [...new Set(kept.map((o) => o.server))].sort((a, b) => a - b);
  const serverRow = new Map(servers.map((j, i) => [j, i]));
  // Rows: one per request, then a balance row per server and slot, then a room row per server and slot.
  const rowOf = (server: number, slot: number): number => R + (serverRow.get(server) ?? 0) * slots + slot;
  const roomRowOf = (server: number, slot: number): number => rowOf(server, slot) + servers.length * slots;
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
  // A session's units in the room rows of the slots it covers in part (by the part it covers), and in the
  // level of the slots it covers whole: it joins at the first and leaves at the last (level_t − level_t−1 = joins − leaves).
  const occupancyEntries = (o: Option): [number, number][] => {
    if (!(o.toMs > o.fromMs)) return [];
    const first = Math.floor(o.fromMs / slotMs);
    const last = Math.floor(o.toMs / slotMs);
    if (first === last) return [[roomRowOf(o.server, first), (o.units * (o.toMs - o.fromMs)) / slotMs]];
    const entries: [number, number][] = [[roomRowOf(o.server, first), (o.units * ((first + 1) * slotMs - o.fromMs)) / slotMs]];
    if (o.toMs > last * slotMs) entries.push([roomRowOf(o.server, last), (o.units * (o.toMs - last * slotMs)) / slotMs]);
    if (last > first + 1) entries.push([rowOf(o.server, first + 1), -o.units], [rowOf(o.server, last), o.units]);
    return entries;
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
      column(o.costMs, Infinity, [[ri, 1], ...occupancyEntries(o)]);
    }
    if (Number.isFinite(c.multiHopMs)) column(c.multiHopMs, Infinity, [[ri, 1]]);
    column(lastEdge + c.fastestMs, Infinity, [[ri, 1]]);
  });
  // Each slot's room: the server's room times the part of the slot it is online.
  const roomUpper: number[] = [];
  for (const j of servers) {
    const id = snapshot.servers[j]?.id ?? '';
    const down = offline.get(id) ?? [];
    for (let t = 0; t < slots; t++) {
      const from = t * slotMs;
      const to = from + slotMs;
      const offMs = down.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0);
      roomUpper.push((room.units[j] ?? 0) * Math.max(0, 1 - offMs / slotMs));
      const entries: [number, number][] = [[rowOf(j, t), 1], [roomRowOf(j, t), 1]];
      if (t + 1 < slots) entries.push([rowOf(j, t + 1), -1]);
      column(0, Infinity, entries);
    }
  }
  const numCols = cost.length;
  const balanceRows = servers.length * slots;
  const numRows = R + 2 * balanceRows;
  const solver = await loadHighs();
  const inf = solver.infinity;
  const out = solver.withModel(
    {
      numCols,
      numRows,
      colCost: cost,
      colLower: new Array<number>(numCols).fill(0),
      colUpper: upper.map((u) => (Number.isFinite(u) ? u : inf)),
      rowLower: [...new Array<number>(R).fill(1), ...new Array<number>(balanceRows).fill(0), ...new Array<number>(balanceRows).fill(-inf)],
      rowUpper: [...new Array<number>(R).fill(1), ...new Array<number>(balanceRows).fill(0), ...roomUpper],
      matrix: { format: 'csc', numRows, numCols, starts, indices, values },
    },
    (m) => {
      m.options.set({ output_flag: false, solver: 'ipm', run_crossover: 'off' });
      m.run();
      return { status: m.getModelStatus(), objective: m.getObjectiveValue() };
    },
  );
  // Always feasible (the late option takes any request; levels may stay 0), so anything else is a bug.
  if (out.status !== solver.constants.modelStatus.optimal) throw new BouquetError('internal', `the time-bound LP ended with HiGHS status ${out.status}`);
  return { meanMs: out.objective * (1 - timeBoundSolverSlack), columns: numCols, rows: numRows, nonzeros: indices.length };
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
