// The follow-up's GBP-CR placement (algorithms.md §4): block counts with cache reservation c,
// disjoint chains filled in order of time per block, c tuned by the Theorem-4 lower bound on the
// mean response time under JFFC over the GCA chains (as the authors' code scores it), near-ties
// going to the c that uses the most servers; then GCA for the chains.
import { BouquetError } from '../errors/index.ts';
import type { BlockSpan, SwarmSnapshot } from '../swarm/index.ts';
import { jobLinkCostMs, serverJobCosts, type ServerJobCost } from '../perf/index.ts';
import { allocateCache, shortestChainWithCost } from '../chains/index.ts';
import type { ChainCapacity } from './types.ts';
import { checkSnapshot, makeAssignment, nowMs, plannedLengths, predictPlacement, syncPolicy } from './common.ts';
import type { PlacementOptions, PlacementPolicyFactory, PlacementResult, ServerAssignment } from './types.ts';
import { InfeasiblePlacementError } from './types.ts';

/** ρ̄: the target load per chain slot GBP-CR plans for. */
export const gbpCrTargetLoad = 0.7;

/** A chain as the JFFC bounds see it: c_k parallel servers of rate 1/T_k. */
export interface ServiceChain {
  /** c_k: concurrent jobs. */
  capacity: number;
  /** T_k: service time of one job, ms. */
  serviceMs: number;
}

/**
 * Theorem 4 (follow-up): mean response time of JFFC, ms, from a birth–death chain on the number of
 * jobs n with birth rate λ and death rate Σ_l μ_l min(c_l, (n − Σ_{l'<l} c_l')⁺), chains sorted by
 * μ = 1/T. `bound: 'lower'` fills the fastest chains first (a lower bound on the response time),
 * 'upper' the slowest first. Mean response = E[n] / λ (Little). Infinity when λ ≥ Σ_l c_l μ_l
 * (unstable) or there is no chain; the fastest chain's T when λ = 0.
 */
export function jffcResponseTimeBoundMs(chains: readonly ServiceChain[], arrivalRatePerS: number, bound: 'lower' | 'upper' = 'lower'): number {
  const usable = chains.filter((c) => c.capacity >= 1 && c.serviceMs > 0 && Number.isFinite(c.serviceMs));
  if (usable.length === 0) return Infinity;
  const sorted = [...usable].sort((a, b) => (bound === 'lower' ? a.serviceMs - b.serviceMs : b.serviceMs - a.serviceMs));
  const lambda = arrivalRatePerS / 1000; // per ms
  if (!(lambda > 0)) return Math.min(...usable.map((c) => c.serviceMs));
  const C = sorted.reduce((a, c) => a + Math.floor(c.capacity), 0);
  const full = sorted.reduce((a, c) => a + Math.floor(c.capacity) / c.serviceMs, 0); // d(n) for n ≥ C
  if (lambda >= full) return Infinity;
  // Death rate d(n) for n = 1..C: fill chains in the sorted order.
  const death = new Float64Array(C + 1);
  let n = 0;
  let rate = 0;
  for (const c of sorted) {
    for (let i = 0; i < Math.floor(c.capacity); i++) {
      rate += 1 / c.serviceMs;
      death[++n] = rate;
    }
  }
  // log p_n, p_0 = 1, p_n = p_{n−1} λ / d(n); then a geometric tail with ratio ρ = λ / d(C).
  const logp = new Float64Array(C + 1);
  let maxLog = 0;
  for (let i = 1; i <= C; i++) {
    logp[i] = (logp[i - 1] ?? 0) + Math.log(lambda / (death[i] ?? 1));
    maxLog = Math.max(maxLog, logp[i] ?? 0);
  }
  const rho = lambda / full;
  let mass = 0;
  let mean = 0;
  for (let i = 0; i < C; i++) {
    const p = Math.exp((logp[i] ?? 0) - maxLog);
    mass += p;
    mean += i * p;
  }
  const pC = Math.exp((logp[C] ?? 0) - maxLog);
  mass += pC / (1 - rho);
  mean += pC * (C / (1 - rho) + rho / ((1 - rho) * (1 - rho)));
  return mean / mass / lambda;
}

/** GBP-CR's placement for one reservation c, with its disjoint chains. */
export interface GbpCrPlacement {
  reservation: number;
  assignments: ServerAssignment[];
  /** The complete disjoint chains it built, fastest first, capacity = min over hops ⌊n_j / k_j⌋ (≥ c). */
  chains: ServiceChain[];
}

/** m_j(c) = min(⌊M_j / (s_m + s_c c)⌋, L). */
export function gbpCrBlockCount(memoryBytes: number, model: SwarmSnapshot['model'], reservation: number): number {
  return Math.max(0, Math.min(model.numBlocks, Math.floor(memoryBytes / (model.blockBytes + model.cacheBytesPerBlock * reservation))));
}

/**
 * GBP-CR for a given c: servers sorted by t_j(c) / m_j(c) with t_j(c) = τᶜ_j + τᵖ_j m_j(c) fill
 * chains over blocks 0..L−1 one after another (the last server of a chain is shifted back to end
 * at block L and runs only the blocks still missing); it stops once Σ_chains 1/T ≥ λ / (ρ̄ c).
 * Servers after the stop stay idle; servers of an unfinished last chain keep their spans (GCA may
 * still route through them). Returns null when not even one chain completes. `jobCosts`: the
 * servers' job costs at the planned lengths, when the caller has them.
 */
export function gbpCrPlacement(snapshot: SwarmSnapshot, reservation: number, jobCosts?: ReadonlyMap<string, ServerJobCost>): GbpCrPlacement | null {
  const { spans, chains } = gbpCrFill(snapshot, reservation, jobCosts, 'planned-load');
  if (chains.length === 0) return null;
  const assignments = snapshot.servers.map((s) => makeAssignment(snapshot, s, spans.get(s.id) ?? null));
  return { reservation, assignments, chains };
}

/**
 * GBP-CR's greedy fill for a given c: the spans it gives (servers it leaves idle have none) and
 * the complete disjoint chains, fastest first. `until`: 'planned-load' stops once the chains carry
 * λ / (ρ̄ c), as the paper does; 'every-server' keeps building chains until no server is left
 * (bouquet's spare spans). An unfinished last chain's servers keep their spans either way.
 */
export function gbpCrFill(
  snapshot: SwarmSnapshot,
  reservation: number,
  jobCosts: ReadonlyMap<string, ServerJobCost> | undefined,
  until: 'planned-load' | 'every-server',
): { spans: Map<string, BlockSpan>; chains: ServiceChain[] } {
  const L = snapshot.model.numBlocks;
  const { lIn, lOut } = plannedLengths(snapshot);
  // The c search passes the costs it computed once (they do not depend on c).
  const costs = jobCosts ?? serverJobCosts(snapshot, lIn, lOut);
  const lambdaPerMs = snapshot.workload.arrivalRatePerS / 1000;
  const ranked = snapshot.servers
    .map((s, i) => {
      const m = gbpCrBlockCount(s.memoryBytes, snapshot.model, reservation);
      const cost = costs.get(s.id) ?? { commMs: Infinity, computeMsPerBlock: Infinity };
      return { s, i, m, cost, perBlock: m > 0 ? (cost.commMs + cost.computeMsPerBlock * m) / m : Infinity };
    })
    .filter((x) => x.m > 0)
    .sort((a, b) => a.perBlock - b.perBlock || a.i - b.i);
  const spans = new Map<string, BlockSpan>();
  const chains: ServiceChain[] = [];
  let pos = 0;
  let chainMs = 0;
  let chainCap = Infinity;
  let rate = 0;
  for (const x of ranked) {
    const slots = makeAssignment(snapshot, x.s, { start: 0, end: x.m }).cacheSlots;
    if (pos + x.m >= L) {
      const k = L - pos;
      spans.set(x.s.id, { start: L - x.m, end: L });
      chainMs += x.cost.commMs + x.cost.computeMsPerBlock * k;
      chainCap = Math.min(chainCap, Math.floor(slots / k));
      chains.push({ capacity: chainCap, serviceMs: chainMs });
      rate += 1 / chainMs;
      pos = 0;
      chainMs = 0;
      chainCap = Infinity;
      if (until === 'planned-load' && rate >= lambdaPerMs / (gbpCrTargetLoad * reservation)) break;
    } else {
      spans.set(x.s.id, { start: pos, end: pos + x.m });
      chainMs += x.cost.commMs + x.cost.computeMsPerBlock * x.m;
      chainCap = Math.min(chainCap, Math.floor(slots / x.m));
      pos += x.m;
    }
  }
  chains.sort((a, b) => a.serviceMs - b.serviceMs);
  return { spans, chains };
}

/**
 * Most sessions per block GBP-CR reserves: the search's work grows with c (and its bound's with the
 * slots), so a claimed memory must not raise it without end; no swarm needs more concurrent sessions.
 */
export const gbpCrReservationCap = 65_536;

/** Largest c (≤ gbpCrReservationCap) for which the servers can still hold L blocks in total (0 when not even c = 1). */
export function gbpCrMaxReservation(snapshot: SwarmSnapshot): number {
  const L = snapshot.model.numBlocks;
  const fits = (c: number): boolean => {
    let total = 0;
    for (const s of snapshot.servers) total += gbpCrBlockCount(s.memoryBytes, snapshot.model, c);
    return total >= L;
  };
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (hi <= gbpCrReservationCap && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > gbpCrReservationCap) return gbpCrReservationCap; // the cap is a power of two: fits(cap) held
  return binarySearch(lo, hi, fits);
}

/** Largest c in [lo, hi) with fits(c), given fits(lo) and not fits(hi). */
function binarySearch(lo: number, hi: number, fits: (c: number) => boolean): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Candidate reservations: every c up to 256, beyond that a ×1.05 geometric grid (refined around the best). */
function candidates(cMax: number): number[] {
  const out: number[] = [];
  for (let c = 1; c <= Math.min(cMax, 256); c++) out.push(c);
  for (let c = 256; c < cMax; c = Math.max(c + 1, Math.floor(c * 1.05))) if (c > 256) out.push(c);
  if (cMax > 256) out.push(cMax);
  return out;
}

/** Result of the 1-D search over c. */
export interface GbpCrChoice {
  placement: GbpCrPlacement;
  /** Theorem-4 lower bound on the mean response time for the chosen c over its GCA chains, ms (Infinity when overloaded). */
  responseLowerBoundMs: number;
  /** The GCA chains of the placement (fastest first) the bound was computed on. */
  gcaChains: ChainCapacity[];
  /** Servers that host at least one block. */
  serversUsed: number;
}

/**
 * Relative width of a near-tie between two values of the bound: the bound is nearly flat in c on
 * real testbeds (c = 1…11 within 0.003 ms of ~10 s on the follow-up's), so differences this small
 * are float noise and must not pick c.
 */
export const gbpCrTieTolerance = 1e-4;

/**
 * The 1-D search over c ∈ [1, c_max] minimizing the Theorem-4 lower bound on the mean response
 * time of the GCA chains over GBP-CR's placement for c (the chains JFFC will dispatch on). Values
 * within `gbpCrTieTolerance` (relative) of the best are near-ties: among them the c whose placement
 * uses the most servers wins, then the smaller c — so tiny float perturbations of the inputs do not
 * move the choice. When every c is overloaded it picks the c with the largest total service rate
 * Σ c_k / T_k (near-ties likewise). `fixed` skips the search. `sessionsPerSlot` (default 1): sessions
 * one reserved slot carries when admission reserves each session's declared length rather than a
 * whole slot (bouquet): chain capacities count sessions (and so does the bound), c counts slots.
 */
export function chooseGbpCrReservation(snapshot: SwarmSnapshot, fixed?: number, sessionsPerSlot = 1): GbpCrChoice {
  const L = snapshot.model.numBlocks;
  const cMax = gbpCrMaxReservation(snapshot);
  if (cMax < 1) {
    const total = snapshot.servers.reduce((a, s) => a + gbpCrBlockCount(s.memoryBytes, snapshot.model, 1), 0);
    throw new InfeasiblePlacementError(`servers can hold only ${total} of L = ${L} blocks even with c = 1 session reserved per block`);
  }
  const lambda = snapshot.workload.arrivalRatePerS;
  const { lIn, lOut } = plannedLengths(snapshot);
  const jobCosts = serverJobCosts(snapshot, lIn, lOut);
  const linkCost = jobLinkCostMs(jobCosts);
  // The smallest finite bound seen so far: a c whose fastest chain is already slower than it
  // (beyond a near-tie) cannot be chosen, since the bound is never below the fastest chain's T.
  let bestBoundMs = Infinity;
  const evaluate = (c: number, prune: boolean): GbpCrChoice | null => {
    const placement = gbpCrPlacement(snapshot, c, jobCosts);
    if (placement === null) return null;
    // GCA over the hosts only: idle servers add no link, and skipping them keeps the search cheap.
    const hosts = placement.assignments.filter((a) => a.span !== null);
    if (prune && Number.isFinite(bestBoundMs)) {
      // GCA's first chain: the shortest over links that fit one session (one DP, not GCA's ~100 rounds).
      const slots = new Map(hosts.map((a) => [a.serverId, Math.floor(a.cacheSlots)]));
      const fastest = shortestChainWithCost(hosts, L, linkCost, (id, k) => (slots.get(id) ?? 0) >= k);
      if (fastest === null || fastest.costMs > bestBoundMs * (1 + gbpCrTieTolerance) * (1 + 1e-9)) return null;
    }
    const slotChains = memoizedGca(hosts, L, jobCosts, () => allocateCache(hosts, L, linkCost));
    const gcaChains = sessionsPerSlot === 1 ? slotChains : slotChains.map((k) => ({ ...k, capacity: Math.floor(k.capacity * sessionsPerSlot + 1e-9) }));
    const responseLowerBoundMs = jffcResponseTimeBoundMs(gcaChains, lambda, 'lower');
    if (Number.isFinite(responseLowerBoundMs)) bestBoundMs = Math.min(bestBoundMs, responseLowerBoundMs);
    return { placement, responseLowerBoundMs, gcaChains, serversUsed: hosts.length };
  };
  if (fixed !== undefined) {
    if (!Number.isInteger(fixed) || fixed < 1) throw new BouquetError('bad-argument', `cache reservation c must be a positive integer (got ${fixed})`);
    const r = evaluate(fixed, false);
    if (r === null) throw new InfeasiblePlacementError(`no complete chain of ${L} blocks with c = ${fixed} sessions reserved (at most c = ${cMax} fits)`);
    return r;
  }
  const tried = new Map<number, GbpCrChoice | null>();
  const tryC = (c: number): void => {
    if (c < 1 || c > cMax || tried.has(c)) return;
    // A pruned c counts as infeasible: it is only pruned once some c has a finite bound, and then
    // only c within a near-tie of the smallest finite bound can be chosen (pickReservation).
    tried.set(c, evaluate(c, true));
  };
  for (const c of candidates(cMax)) tryC(c);
  const first = pickReservation([...tried.values()]);
  const firstC = first?.placement.reservation;
  if (firstC !== undefined && firstC > 256) for (let c = Math.floor(firstC / 1.05); c <= Math.ceil(firstC * 1.05); c++) tryC(c);
  const best = pickReservation([...tried.values()]);
  if (best === null) throw new InfeasiblePlacementError(`no reservation c in 1..${cMax} completes a chain of ${L} blocks`);
  return best;
}

/**
 * Most GCA results kept between calls. A re-placement after one volunteer joins or leaves gives
 * the same hosts, spans and job costs for many c (every c whose chains do not reach that
 * volunteer), and GCA is most of the search's work: the simulator re-places on every churn event.
 */
const gcaMemoEntries = 4096;
const gcaMemo = new Map<string, ChainCapacity[]>();

/**
 * GCA's chains over `hosts` from the memo, else `compute()`'s (then remembered). The key is all
 * GCA reads: each host's id, span, slots and job costs (its link cost τᶜ_j + τᵖ_j k is a function
 * of those alone), so a hit returns exactly what GCA would compute. Least recently used out first.
 */
function memoizedGca(hosts: readonly ServerAssignment[], numBlocks: number, jobCosts: ReadonlyMap<string, ServerJobCost>, compute: () => ChainCapacity[]): ChainCapacity[] {
  let key = String(numBlocks);
  for (const h of hosts) {
    const c = jobCosts.get(h.serverId);
    key += `|${h.serverId}:${h.span?.start}-${h.span?.end}:${h.cacheSlots}:${c?.commMs}:${c?.computeMsPerBlock}`;
  }
  const hit = gcaMemo.get(key);
  if (hit !== undefined) {
    gcaMemo.delete(key);
    gcaMemo.set(key, hit);
    return [...hit];
  }
  const chains = compute();
  gcaMemo.set(key, chains);
  if (gcaMemo.size > gcaMemoEntries) {
    const oldest = gcaMemo.keys().next();
    if (oldest.done !== true) gcaMemo.delete(oldest.value);
  }
  return [...chains];
}

/** Σ c_k / T_k over GCA chains, jobs per ms. */
function serviceRate(r: GbpCrChoice): number {
  return r.gcaChains.reduce((a, k) => a + k.capacity / k.serviceMs, 0);
}

/** The choice among evaluated reservations: the smallest bound up to a near-tie, then most servers used, then the smaller c. */
function pickReservation(evaluated: readonly (GbpCrChoice | null)[]): GbpCrChoice | null {
  const feasible = evaluated.filter((r): r is GbpCrChoice => r !== null);
  if (feasible.length === 0) return null;
  const stable = feasible.filter((r) => Number.isFinite(r.responseLowerBoundMs));
  let tied: GbpCrChoice[];
  if (stable.length > 0) {
    const min = Math.min(...stable.map((r) => r.responseLowerBoundMs));
    tied = stable.filter((r) => r.responseLowerBoundMs <= min * (1 + gbpCrTieTolerance));
  } else {
    // Every c overloaded: the most service rate, near-ties alike.
    const max = Math.max(...feasible.map(serviceRate));
    tied = feasible.filter((r) => serviceRate(r) >= max * (1 - gbpCrTieTolerance));
  }
  return tied.reduce((b, r) =>
    r.serversUsed > b.serversUsed || (r.serversUsed === b.serversUsed && r.placement.reservation < b.placement.reservation) ? r : b,
  );
}

/**
 * GBP-CR placement with GCA chains. Options: `concurrentRequests` fixes c (else the 1-D search).
 * Fills `chains` (GCA over the placement, fastest first) and `reservedSessions` (c).
 */
export const gbpCr: PlacementPolicyFactory = (options: PlacementOptions = {}) =>
  syncPolicy((snapshot): PlacementResult => {
    const t0 = nowMs();
    checkSnapshot(snapshot);
    const { placement, gcaChains: chains } = chooseGbpCrReservation(snapshot, options.concurrentRequests);
    const prediction = predictPlacement(snapshot, placement.assignments);
    return {
      policy: 'gbp-cr',
      assignments: placement.assignments,
      chains,
      prediction,
      reservedSessions: placement.reservation,
      runtimeMs: nowMs() - t0,
    };
  });
