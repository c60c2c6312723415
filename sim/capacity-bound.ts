// The capacity (fluid) lower bound on mean response: the relaxed bound plus the memory one-hop sessions hold, as an LP solved with HiGHS.
import { BouquetError } from '../core/errors/index.ts';
import { loadHighs } from '../core/placement/index.ts';
import type { SwarmSnapshot } from '../core/swarm/index.ts';
import type { SimRequest } from './arrivals.ts';
import type { ChurnSpec } from './engine-types.ts';
import { fastestChainsMs, hopCosts, sessionCacheBytesPerBlock } from './lower-bound.ts';

/** The capacity bound over one run's requests. */
export interface CapacityLowerBound {
  /** Mean over requests, ms: no policy's mean response on this run can be lower (see `capacityLowerBound` for the assumptions). */
  meanMs: number;
  /** The horizon slack Δ whose LP gave `meanMs`, ms (every Δ ≥ 0 gives a valid bound; the largest is kept). */
  horizonSlackMs: number;
  /** Request classes the LP had (client, prompt and output length). */
  classes: number;
  /**
   * Significant binary digits lengths were rounded down to so the LP keeps at most `maxClasses`
   * classes (null: exact lengths; 0: every prompt 0 tokens and every output 1, one class per
   * client). Rounding down lowers every cost and every cache, so the bound stays valid.
   */
  lengthBits: number | null;
}

/** Options of `capacityLowerBound`. */
export interface CapacityBoundOptions {
  /** The run's churn (all volunteers start online, as in the simulator): capacity counts expected online time. */
  churn?: ChurnSpec;
  /** Most request classes the LP keeps (default 256): beyond that lengths are rounded down until they fit (at worst one class per client). */
  maxClasses?: number;
}

/** Default cap on the LP's request classes. */
export const capacityBoundMaxClasses = 256;

/** Horizon slacks tried per bound (geometric between the cheapest and the dearest option). */
const slackSteps = 8;

/** One request class: its count and its options (cost in ms; one-hop options also hold memory). */
interface RequestClass {
  count: number;
  /** Relaxed bound of the class (fastest chain of any hop count), ms. */
  fastestMs: number;
  /** Fastest chain of ≥ 2 hops, ms (Infinity where none). */
  multiHopMs: number;
  /** One hop on server `server` (index into the capacity rows) for `serviceMs`, holding `sessionBytes`. */
  oneHop: { server: number; serviceMs: number }[];
  /** Cache one session of this class keeps on a server holding all L blocks, bytes: L · its cache per block. */
  sessionBytes: number;
}

/** `x` with all but its `bits` most significant binary digits cleared (rounded down; 0 bits: 0). */
function roundDownBits(x: number, bits: number | null): number {
  if (bits === null || x < 1) return x;
  const drop = Math.max(0, Math.floor(Math.log2(x)) + 1 - bits);
  return Math.floor(x / 2 ** drop) * 2 ** drop;
}

/** Requests grouped by (client, prompt, output) after rounding lengths to `bits` digits. */
function groupRequests(requests: readonly SimRequest[], bits: number | null): Map<string, { clientId: string; lIn: number; lOut: number; count: number }> {
  const out = new Map<string, { clientId: string; lIn: number; lOut: number; count: number }>();
  for (const r of requests) {
    const lIn = roundDownBits(r.inputTokens, bits);
    const lOut = Math.max(1, roundDownBits(r.outputTokens, bits));
    const key = `${r.clientId}\u0000${lIn}\u0000${lOut}`;
    const c = out.get(key);
    if (c === undefined) out.set(key, { clientId: r.clientId, lIn, lOut, count: 1 });
    else c.count++;
  }
  return out;
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
 *   Σ_r n_rj S_rj m_r ≤ (M_j − L · s_m) · online_j,
 * online_j the time j is online in that window (with churn its expectation from the start,
 * `expectedOnlineMs`). The LP  min Σ_r Σ_o n_ro cost_ro / N  s.t.  Σ_o n_ro = N_r, n ≥ 0, the memory
 * rows, is solved for a few Δ and the largest value kept (each is a bound). For long runs this is
 * Little's law in steady state (λ_r x_rj S_rj sessions at once on j); the horizon slack and the
 * late option keep it a bound of one finite run too. What it still assumes, as the relaxed bound
 * (sim/lower-bound.ts): nominal speeds (no speed draws, no contention), a session's memory held
 * at least its nominal service; under churn only the online time is an expectation (a
 * steady-state bound, not a per-run guarantee), and a failed-over session counts as served whole
 * where it ends. With ample memory and one class it equals the relaxed bound's mean; it is never
 * below it (option (c) costs at least the relaxed bound, (a) and (b) too).
 */
export async function capacityLowerBound(snapshot: SwarmSnapshot, requests: readonly SimRequest[], options: CapacityBoundOptions = {}): Promise<CapacityLowerBound> {
  const maxClasses = options.maxClasses ?? capacityBoundMaxClasses;
  if (requests.length === 0) return { meanMs: 0, horizonSlackMs: 0, classes: 0, lengthBits: null };
  let bits: number | null = null;
  let groups = groupRequests(requests, bits);
  for (let b = 12; groups.size > maxClasses && b >= 0; b--) {
    bits = b;
    groups = groupRequests(requests, bits);
  }
  const L = snapshot.model.numBlocks;
  const spareBytes = snapshot.servers.map((s) => s.memoryBytes - L * snapshot.model.blockBytes);
  const serverIndex = new Map(snapshot.servers.map((s, j) => [s.id, j]));
  const classes: RequestClass[] = [];
  for (const g of groups.values()) {
    const hops = hopCosts(snapshot, g.clientId, g.lIn, g.lOut);
    const chains = fastestChainsMs(hops, L);
    if (!Number.isFinite(chains.anyMs)) return { meanMs: Infinity, horizonSlackMs: 0, classes: groups.size, lengthBits: bits };
    const oneHop = hops.filter((h) => h.maxBlocks >= L).map((h) => ({ server: serverIndex.get(h.serverId) ?? -1, serviceMs: h.fixedMs + L * h.perBlockMs }));
    classes.push({ count: g.count, fastestMs: chains.anyMs, multiHopMs: chains.multiHopMs, oneHop, sessionBytes: L * sessionCacheBytesPerBlock(snapshot.model, g.lIn + g.lOut) });
  }
  const arrivals = requests.map((r) => r.arrivalMs);
  const firstMs = Math.min(...arrivals);
  const lastMs = Math.max(...arrivals);
  const costs = classes.flatMap((c) => [c.fastestMs, ...c.oneHop.map((o) => o.serviceMs), ...(Number.isFinite(c.multiHopMs) ? [c.multiHopMs] : [])]);
  const lo = Math.min(...costs);
  const hi = Math.max(...costs);
  let best: { meanMs: number; slackMs: number } = { meanMs: -Infinity, slackMs: 0 };
  for (let k = 0; k < slackSteps; k++) {
    const slackMs = lo * (hi / lo) ** (k / (slackSteps - 1));
    const meanMs = await solveCapacityLp(classes, spareBytes, (j) => onlineOf(snapshot, options.churn, j, firstMs, lastMs + slackMs), slackMs, requests.length);
    if (meanMs > best.meanMs) best = { meanMs, slackMs };
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
 * The LP of `capacityLowerBound` for one horizon slack, solved with HiGHS; its optimum, ms per
 * request. Columns n_ro ≥ 0 (requests of class r on option o), rows Σ_o n_ro = N_r and, per
 * server, Σ_r n_rj S_rj m_r / (spare_j · online_j) ≤ 1.
 */
async function solveCapacityLp(
  classes: readonly RequestClass[],
  spareBytes: readonly number[],
  onlineMs: (server: number) => number,
  slackMs: number,
  total: number,
): Promise<number> {
  const R = classes.length;
  const J = spareBytes.length;
  const cost: number[] = [];
  const starts: number[] = [0];
  const indices: number[] = [];
  const values: number[] = [];
  const column = (costMs: number, entries: readonly [number, number][]): void => {
    cost.push(costMs / total);
    for (const [row, v] of entries) {
      indices.push(row);
      values.push(v);
    }
    starts.push(indices.length);
  };
  const online = Array.from({ length: J }, (_, j) => onlineMs(j));
  classes.forEach((c, r) => {
    for (const o of c.oneHop) {
      const room = (spareBytes[o.server] ?? 0) * (online[o.server] ?? 0);
      // A server online for no time in the window (or without room) takes no one-hop session there.
      if (!(room > 0)) continue;
      column(o.serviceMs, [
        [r, 1],
        [R + o.server, (o.serviceMs * c.sessionBytes) / room],
      ]);
    }
    if (Number.isFinite(c.multiHopMs)) column(c.multiHopMs, [[r, 1]]);
    column(Math.max(slackMs, c.fastestMs), [[r, 1]]);
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
