// The capacity (fluid) lower bound on mean response: the relaxed bound plus the memory one-hop sessions hold, as an LP solved with HiGHS.
import { BouquetError } from '../core/errors/index.ts';
import { loadHighs } from '../core/placement/index.ts';
import type { SwarmSnapshot } from '../core/swarm/index.ts';
import type { SimRequest } from './arrivals.ts';
import type { ChurnSpec } from './engine-types.ts';
import { fastestChainsMs, hopCosts, sessionCacheBytesPerBlock, sessionCacheUnits } from './lower-bound.ts';

/** The capacity bound over one run's requests. */
export interface CapacityLowerBound {
  /** Mean over requests, ms: no policy's mean response on this run can be lower (see `capacityLowerBound` for the assumptions). */
  meanMs: number;
  /** The horizon slack Δ whose LP gave `meanMs`, ms (every Δ ≥ 0 gives a valid bound; the largest is kept). */
  horizonSlackMs: number;
  /** Request classes the LP had (client, prompt and output length). */
  classes: number;
  /**
   * Significant binary digits of the lengths the LP grouped requests by so that it keeps at most
   * `maxClasses` classes (null: exact lengths; 0: one class per client). A group's costs above the
   * relaxed bound and its memory-time are the least over its members, so the bound stays valid.
   */
  lengthBits: number | null;
}

/** Options of `capacityLowerBound`. */
export interface CapacityBoundOptions {
  /** The run's churn (all volunteers start online, as in the simulator): capacity counts expected online time. */
  churn?: ChurnSpec;
  /** Most request classes the LP keeps (default 1024): beyond that classes of similar lengths are grouped (at worst one per client). */
  maxClasses?: number;
}

/** Default cap on the LP's request classes. */
export const capacityBoundMaxClasses = 1024;

/** Horizon slacks tried per bound (geometric between the cheapest and the dearest option). */
const slackSteps = 8;

/** One request class (client, exact prompt and output length): its count and its options. */
interface ExactClass {
  key: { clientId: string; lIn: number; lOut: number };
  count: number;
  /** Its session's cache in units of a slot (`sessionCacheUnits`). */
  units: number;
  /** Its relaxed bound (the fastest chain of any hop count), ms. */
  fastestMs: number;
  /** The fastest chain of ≥ 2 hops, ms (Infinity where none). */
  multiHopMs: number;
  /** One hop on server `server` (index into snapshot.servers): service S_rj, ms, and memory-time S_rj · m_r, byte·ms. */
  oneHop: { server: number; serviceMs: number; memoryByteMs: number }[];
}

/**
 * A class as the LP sees it: a group of exact classes whose costs above their relaxed bound and
 * whose memory-time are the least over its members (equal to theirs when the group has one).
 */
interface LpClass {
  count: number;
  /** The group's largest relaxed bound, ms (the late option costs max(Δ − it, 0) above the relaxed bound). */
  maxFastestMs: number;
  /** Least extra of a ≥ 2-hop chain over the relaxed bound, ms (Infinity where none). */
  multiHopExtraMs: number;
  /** Per server index: least extra of its one hop over the relaxed bound, ms, and least memory-time, byte·ms. */
  oneHop: Map<number, { extraMs: number; memoryByteMs: number }>;
}

/** Largest unbounded subset-sum work (capacity × sizes) `packableUnits` does before it settles for the capacity itself. */
const packingWorkLimit = 4_000_000;

/**
 * Most units of cache whole sessions of the given sizes (units each, any number of each) can fill
 * within `capacityUnits` at once: an unbounded subset sum. `capacityUnits` itself (the fluid
 * room, still an upper bound) where the DP would exceed `packingWorkLimit`.
 */
export function packableUnits(capacityUnits: number, sizes: readonly number[]): number {
  const fit = [...new Set(sizes)].filter((u) => u >= 1 && u <= capacityUnits);
  if (fit.length === 0) return 0;
  if (fit.includes(1) || capacityUnits * fit.length > packingWorkLimit) return capacityUnits;
  const reach = new Uint8Array(capacityUnits + 1);
  reach[0] = 1;
  let best = 0;
  for (let v = 1; v <= capacityUnits; v++) {
    for (const u of fit) {
      if (u <= v && reach[v - u] === 1) {
        reach[v] = 1;
        best = v;
        break;
      }
    }
  }
  return best;
}

/**
 * Each server's room for sessions beside all L blocks, in cache units (`sessionCacheUnits`: token
 * blocks of all L blocks; a slot where the model has no token blocks), and the bytes of one unit.
 * Sessions are whole at every instant, so the room is the most units whole sessions of the given
 * sizes fill (`packableUnits`): a laptop with room for 1.7 sessions of one size holds 1.
 */
export function roomBesideAllBlocks(snapshot: SwarmSnapshot, sizes: readonly number[]): { units: number[]; unitBytes: number } {
  const L = snapshot.model.numBlocks;
  const { unitsPerSlot } = sessionCacheUnits(snapshot.model, 1);
  const unitBytes = (L * snapshot.model.cacheBytesPerBlock) / unitsPerSlot;
  const packed = new Map<number, number>();
  const units = snapshot.servers.map((s) => {
    const capacityUnits = Math.max(0, Math.floor(((s.memoryBytes - L * snapshot.model.blockBytes) / unitBytes) * (1 + 1e-12)));
    let u = packed.get(capacityUnits);
    if (u === undefined) {
      u = packableUnits(capacityUnits, sizes);
      packed.set(capacityUnits, u);
    }
    return u;
  });
  return { units, unitBytes };
}

/** `x` with all but its `bits` most significant binary digits cleared (rounded down; 0 bits: 0). */
function roundDownBits(x: number, bits: number | null): number {
  if (bits === null || x < 1) return x;
  const drop = Math.max(0, Math.floor(Math.log2(x)) + 1 - bits);
  return Math.floor(x / 2 ** drop) * 2 ** drop;
}

/** The exact classes grouped by client and lengths kept to `bits` significant binary digits. */
function groupClasses(exact: readonly ExactClass[], bits: number | null): LpClass[] {
  const groups = new Map<string, LpClass>();
  for (const c of exact) {
    const key = `${c.key.clientId}\u0000${roundDownBits(c.key.lIn, bits)}\u0000${roundDownBits(c.key.lOut, bits)}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { count: 0, maxFastestMs: 0, multiHopExtraMs: Infinity, oneHop: new Map() };
      groups.set(key, g);
    }
    g.count += c.count;
    g.maxFastestMs = Math.max(g.maxFastestMs, c.fastestMs);
    g.multiHopExtraMs = Math.min(g.multiHopExtraMs, c.multiHopMs - c.fastestMs);
    for (const o of c.oneHop) {
      const was = g.oneHop.get(o.server);
      const extraMs = o.serviceMs - c.fastestMs;
      g.oneHop.set(o.server, { extraMs: Math.min(was?.extraMs ?? Infinity, extraMs), memoryByteMs: Math.min(was?.memoryByteMs ?? Infinity, o.memoryByteMs) });
    }
  }
  return [...groups.values()];
}

/**
 * Expected time a volunteer is online in [t0Ms, t1Ms], ms, when it starts online at 0 and churns
 * with exponential stays (on `meanOnlineMs`, off `meanOfflineMs`): a two-state Markov chain,
 * P(online at t) = π + (1 − π) e^(−κt), π = on / (on + off), κ = 1/on + 1/off.
 */
export function expectedOnlineMs(churn: ChurnSpec | undefined, t0Ms: number, t1Ms: number): number {
  const span = Math.max(0, t1Ms - t0Ms);
  if (churn === undefined) return span;
  const pi = churn.meanOnlineMs / (churn.meanOnlineMs + churn.meanOfflineMs);
  const kappa = 1 / churn.meanOnlineMs + 1 / churn.meanOfflineMs;
  return pi * span + ((1 - pi) * (Math.exp(-kappa * t0Ms) - Math.exp(-kappa * t1Ms))) / kappa;
}

/**
 * The capacity (fluid) lower bound on a run's mean response, ms. Relaxation: requests grouped in
 * classes r = (client, l_in, l_out) with their actual lengths (N_r requests); each request takes
 * one of three kinds of option —
 *   (a) a one-hop chain on a server j that holds all L blocks beside one session of its own tokens
 *       (`sessionCacheBytesPerBlock`), service S_rj = the single L-block hop `fastestServiceMs`
 *       charges on j; the session keeps m_r = L · (its cache per block) bytes on j for ≥ S_rj;
 *   (b) the fastest chain of ≥ 2 hops (same DP), without any capacity limit (optimistic);
 *   (c) "late": it ends after a_N + Δ (a_N the last arrival), so its response is ≥ Δ; cost
 *       max(Δ, its relaxed bound), no capacity either.
 * Memory: every one-hop session on j that is not late lies wholly in [a_1, a_N + Δ], so
 *   Σ_r n_rj S_rj m_r ≤ room_j · online_j,
 * room_j the most cache whole sessions of the run's sizes fill in M_j − L · s_m (`packableUnits`:
 * sessions are whole at every instant, so a laptop with room for 1.7 sessions holds 1), online_j
 * the time j is online in that window (with churn its expectation from the start, `expectedOnlineMs`). The LP  min Σ_r Σ_o n_ro cost_ro / N  s.t.  Σ_o n_ro = N_r, n ≥ 0, the memory
 * rows, is solved for a few Δ and the largest value kept (each is a bound). It is written as the
 * relaxed bound's mean plus each option's extra over its class's relaxed bound (≥ 0), so it is
 * never below the relaxed mean; with ample memory and one class it equals it. Beyond `maxClasses`
 * classes, classes of similar lengths share one LP class whose extras and memory-times are the least
 * of its members' (still a relaxation). For long runs this is Little's law in steady state
 * (λ_r x_rj S_rj sessions at once on j); the horizon slack and the late option keep it a bound of
 * one finite run too. What it still assumes, as the relaxed bound (sim/lower-bound.ts): nominal
 * speeds (no speed draws, no contention), a session's memory held at least its nominal service;
 * under churn the online time is an expectation (a steady-state bound, not a per-run guarantee),
 * and a failed-over session counts as served whole where it ends.
 */
export async function capacityLowerBound(snapshot: SwarmSnapshot, requests: readonly SimRequest[], options: CapacityBoundOptions = {}): Promise<CapacityLowerBound> {
  const maxClasses = options.maxClasses ?? capacityBoundMaxClasses;
  if (requests.length === 0) return { meanMs: 0, horizonSlackMs: 0, classes: 0, lengthBits: null };
  const L = snapshot.model.numBlocks;
  const counts = new Map<string, { key: ExactClass['key']; count: number }>();
  for (const r of requests) {
    const k = `${r.clientId}\u0000${r.inputTokens}\u0000${r.outputTokens}`;
    const c = counts.get(k);
    if (c === undefined) counts.set(k, { key: { clientId: r.clientId, lIn: r.inputTokens, lOut: r.outputTokens }, count: 1 });
    else c.count++;
  }
  const serverIndex = new Map(snapshot.servers.map((s, j) => [s.id, j]));
  const exact: ExactClass[] = [];
  let relaxedSumMs = 0;
  for (const { key, count } of counts.values()) {
    const hops = hopCosts(snapshot, key.clientId, key.lIn, key.lOut);
    const chains = fastestChainsMs(hops, L);
    if (!Number.isFinite(chains.anyMs)) return { meanMs: Infinity, horizonSlackMs: 0, classes: counts.size, lengthBits: null };
    const sessionBytes = L * sessionCacheBytesPerBlock(snapshot.model, key.lIn + key.lOut);
    const oneHop = hops
      .filter((h) => h.maxBlocks >= L)
      .map((h) => {
        const serviceMs = h.fixedMs + L * h.perBlockMs;
        return { server: serverIndex.get(h.serverId) ?? -1, serviceMs, memoryByteMs: serviceMs * sessionBytes };
      });
    exact.push({ key, count, units: sessionCacheUnits(snapshot.model, key.lIn + key.lOut).units, fastestMs: chains.anyMs, multiHopMs: chains.multiHopMs, oneHop });
    relaxedSumMs += count * chains.anyMs;
  }
  let bits: number | null = null;
  let classes = groupClasses(exact, bits);
  for (let b = 12; classes.length > maxClasses && b >= 0; b--) {
    bits = b;
    classes = groupClasses(exact, bits);
  }
  const relaxedMeanMs = relaxedSumMs / requests.length;
  const room = roomBesideAllBlocks(snapshot, exact.map((c) => c.units));
  const roomBytes = room.units.map((u) => u * room.unitBytes);
  const firstMs = requests.reduce((m, r) => Math.min(m, r.arrivalMs), Infinity);
  const lastMs = requests.reduce((m, r) => Math.max(m, r.arrivalMs), -Infinity);
  const costs = exact.flatMap((c) => [c.fastestMs, ...c.oneHop.map((o) => o.serviceMs), ...(Number.isFinite(c.multiHopMs) ? [c.multiHopMs] : [])]);
  const lo = costs.reduce((m, v) => Math.min(m, v), Infinity);
  const hi = costs.reduce((m, v) => Math.max(m, v), 0);
  let best: { meanMs: number; slackMs: number } = { meanMs: relaxedMeanMs, slackMs: lo };
  for (let k = 0; k < slackSteps; k++) {
    const slackMs = lo > 0 ? lo * (hi / lo) ** (k / (slackSteps - 1)) : (hi * k) / (slackSteps - 1);
    const extraMs = await solveCapacityLp(classes, roomBytes, (j) => onlineOf(snapshot, options.churn, j, firstMs, lastMs + slackMs), slackMs, requests.length);
    if (relaxedMeanMs + extraMs > best.meanMs) best = { meanMs: relaxedMeanMs + extraMs, slackMs };
  }
  return { meanMs: best.meanMs, horizonSlackMs: best.slackMs, classes: classes.length, lengthBits: bits };
}

/** Online time of server j in [t0Ms, t1Ms], ms: expected under churn for the volunteers that churn. */
function onlineOf(snapshot: SwarmSnapshot, churn: ChurnSpec | undefined, j: number, t0Ms: number, t1Ms: number): number {
  const id = snapshot.servers[j]?.id ?? '';
  const churns = churn !== undefined && (churn.serverIds === undefined || churn.serverIds.includes(id));
  return expectedOnlineMs(churns ? churn : undefined, t0Ms, t1Ms);
}

/**
 * The LP of `capacityLowerBound` for one horizon slack, solved with HiGHS: its optimum, the mean
 * extra over the relaxed bound, ms per request. Columns n_ro ≥ 0 (requests of class r on option o),
 * rows Σ_o n_ro = N_r and, per server, Σ_r n_rj S_rj m_r / (room_j · online_j) ≤ 1.
 */
async function solveCapacityLp(
  classes: readonly LpClass[],
  roomBytes: readonly number[],
  onlineMs: (server: number) => number,
  slackMs: number,
  total: number,
): Promise<number> {
  const R = classes.length;
  const J = roomBytes.length;
  const cost: number[] = [];
  const starts: number[] = [0];
  const indices: number[] = [];
  const values: number[] = [];
  const column = (extraMs: number, entries: readonly [number, number][]): void => {
    cost.push(extraMs / total);
    for (const [row, v] of entries) {
      indices.push(row);
      values.push(v);
    }
    starts.push(indices.length);
  };
  const online = Array.from({ length: J }, (_, j) => onlineMs(j));
  classes.forEach((c, r) => {
    for (const [server, o] of c.oneHop) {
      const room = (roomBytes[server] ?? 0) * (online[server] ?? 0);
      // A server online for no time in the window (or without room) takes no one-hop session there.
      if (!(room > 0)) continue;
      column(o.extraMs, [
        [r, 1],
        [R + server, o.memoryByteMs / room],
      ]);
    }
    if (Number.isFinite(c.multiHopExtraMs)) column(c.multiHopExtraMs, [[r, 1]]);
    column(Math.max(0, slackMs - c.maxFastestMs), [[r, 1]]);
  });
  const numCols = cost.length;
  const solver = await loadHighs();
  const inf = solver.infinity;
  const out = solver.withModel(
    {
      numCols,
      numRows: R + J,
      colCost: cost,
      colLower: new Array<number>(numCols).fill(0),
      colUpper: new Array<number>(numCols).fill(inf),
      rowLower: [...classes.map((c) => c.count), ...new Array<number>(J).fill(-inf)],
      rowUpper: [...classes.map((c) => c.count), ...new Array<number>(J).fill(1)],
      matrix: { format: 'csc', numRows: R + J, numCols, starts, indices, values },
    },
    (m) => {
      m.options.set({ output_flag: false });
      m.run();
      return { status: m.getModelStatus(), objective: m.getObjectiveValue() };
    },
  );
  // Always feasible and bounded (the late option takes any class), so anything else is a bug.
  if (out.status !== solver.constants.modelStatus.optimal) throw new BouquetError('internal', `the capacity-bound LP ended with HiGHS status ${out.status}`);
  return out.objective;
}
