// Bouquet's own placement (docs/bouquet.md): GBP-CR's chains with c chosen for sessions admitted by declared length, per client region.
import { tokenBlocksFor } from '../cache/index.ts';
import { isBouquetError } from '../errors/index.ts';
import type { SwarmSnapshot } from '../swarm/index.ts';
import { allocateCache } from '../chains/index.ts';
import { jobLinkCostMs, serverJobCosts } from '../perf/index.ts';
import { chooseGbpCrReservation, gbpCrFill, gbpCrTieTolerance, type GbpCrChoice } from './gbp-cr.ts';
import { checkSnapshot, makeAssignment, nowMs, plannedLengths, predictPlacement, syncPolicy } from './common.ts';
import type { ChainCapacity, PlacementOptions, PlacementPolicyFactory, PlacementResult, ServerAssignment } from './types.ts';

/**
 * Tokens one session's cache slot holds: s_c / (2 · kv_dim · bytes per value) when the model says
 * how wide its cache is, else `fallbackTokens` (the simulator passes the longest declared request), tokens.
 */
export function slotTokensOf(model: SwarmSnapshot['model'], fallbackTokens: number): number {
  if (model.kvDim !== undefined || model.hiddenSize !== undefined) {
    const perToken = 2 * (model.kvDim ?? model.hiddenSize ?? 1) * (model.cacheBytesPerValue ?? 2);
    return Math.max(1, Math.floor(model.cacheBytesPerBlock / perToken));
  }
  return Math.max(1, Math.ceil(fallbackTokens));
}

/**
 * Sessions one whole cache slot carries when admission reserves each session's declared length
 * (prompt + maxNewTokens) in 16-token blocks: ⌈slot / 16⌉ / ⌈min(declared, slot) / 16⌉ at the
 * workload's mean declared length (≥ 1). 1 when the workload declares nothing or the model does
 * not say how many tokens a slot holds.
 */
export function sessionsPerSlot(snapshot: SwarmSnapshot): number {
  const declared = snapshot.workload.meanDeclaredTokens;
  const m = snapshot.model;
  if (declared === undefined || !(declared > 0) || (m.kvDim === undefined && m.hiddenSize === undefined)) return 1;
  const slot = slotTokensOf(m, declared);
  return Math.max(1, tokenBlocksFor(slot) / Math.max(1, tokenBlocksFor(Math.min(slot, Math.ceil(declared)))));
}

/**
 * The snapshot bouquet's c search plans on: under admission by declared length a session holds
 * 1 / `perSlot` of a whole slot, so the model's cache per block is one session's,
 * s_c / perSlot (bytes), and c counts sessions. A volunteer's block count m_j(c) then leaves room
 * for c declared-length sessions, not c whole slots: on browser-swarm a laptop with 3.98–4.18 GB
 * holds all 32 blocks next to one 640-token session (a one-hop chain) but not next to a
 * 1024-token slot, where GBP-CR's whole-slot count gave it 31 blocks and a second hop.
 * The snapshot itself when perSlot is 1.
 */
export function sessionUnitSnapshot(snapshot: SwarmSnapshot, perSlot: number): SwarmSnapshot {
  if (!(perSlot > 1)) return snapshot;
  return { ...snapshot, model: { ...snapshot.model, cacheBytesPerBlock: snapshot.model.cacheBytesPerBlock / perSlot } };
}

/** The units bouquet's c search plans in: its snapshot, the sessions one of its slots carries, and the global choice when it was made. */
interface PlanUnits {
  snapshot: SwarmSnapshot;
  perSlot: number;
  choice: GbpCrChoice | null;
}

/**
 * Whole slots (capacities in sessions, `perSlot` each) or declared-length sessions
 * (`sessionUnitSnapshot`): sessions only where the global c search's bound is finite in whole slots
 * and lower in sessions beyond a near-tie. Where whole slots are overloaded at every c the bound is
 * too optimistic to trust in sessions (tiny instances at λ ≈ 17–21/s: up to 1.5× worse), and the
 * whole-slot fallback below applies, as before.
 */
function planUnits(snapshot: SwarmSnapshot, perSlot: number, options: PlacementOptions): PlanUnits {
  const wholeSlots: PlanUnits = { snapshot, perSlot, choice: null };
  if (options.sessionUnits === false || !(perSlot > 1)) return wholeSlots;
  const inSessions = sessionUnitSnapshot(snapshot, perSlot);
  let whole: GbpCrChoice;
  let sessions: GbpCrChoice;
  try {
    whole = chooseGbpCrReservation(snapshot, options.concurrentRequests, perSlot);
  } catch (e) {
    // Whole slots cannot place this swarm at all (no chain of volunteers keeping a whole slot covers
    // the model): in sessions it may still serve the declarations it can hold (a longer one then
    // has no route, core/routing), which beats serving nobody.
    if (!isBouquetError(e, 'infeasible')) throw e;
    try {
      return { snapshot: inSessions, perSlot: 1, choice: chooseGbpCrReservation(inSessions, options.concurrentRequests, 1) };
    } catch {
      throw e;
    }
  }
  try {
    sessions = chooseGbpCrReservation(inSessions, options.concurrentRequests, 1);
  } catch {
    return { ...wholeSlots, choice: whole };
  }
  if (Number.isFinite(whole.responseLowerBoundMs) && sessions.responseLowerBoundMs < whole.responseLowerBoundMs * (1 - gbpCrTieTolerance)) {
    return { snapshot: inSessions, perSlot: 1, choice: sessions };
  }
  return { ...wholeSlots, choice: whole };
}

/** The placement's `sessionsPerSlot` field: present only when a slot carries more than one session. */
function sessionsField(perSlot: number): { sessionsPerSlot?: number } {
  return perSlot > 1 ? { sessionsPerSlot: perSlot } : {};
}

/**
 * Most predicted queueing (Theorem-4 bound over the region's fastest chain, − 1) at which bouquet
 * still plans each client region apart; beyond it the regions share one plan. Tuned on tiny
 * instances and seeds 1–10 only.
 */
export const bouquetRegionalQueueing = 0.05;

/** One region's share of the plan: its clients, its servers and the c its search chose. */
interface RegionPlan {
  region: string;
  choice: GbpCrChoice;
  chains: ChainCapacity[];
}

/**
 * GBP-CR per client region: each region's servers placed for that region's clients and its share
 * of λ, so chains do not pay cross-region round trips on every hop. Null when clients sit in one
 * region, a server's region has no client, or some region cannot complete a chain on its own (the
 * global plan is then used).
 */
function regionalPlans(snapshot: SwarmSnapshot, perSlot: number, fixed: number | undefined): RegionPlan[] | null {
  const clientRegions = new Set(snapshot.clients.map((c) => c.region ?? ''));
  if (clientRegions.size < 2 || clientRegions.has('')) return null;
  if (snapshot.servers.some((s) => !clientRegions.has(s.region ?? ''))) return null;
  const weight = (c: { weight?: number }): number => c.weight ?? 1;
  const totalWeight = snapshot.clients.reduce((a, c) => a + weight(c), 0);
  const plans: RegionPlan[] = [];
  for (const region of [...clientRegions].sort()) {
    const clients = snapshot.clients.filter((c) => c.region === region);
    const share = clients.reduce((a, c) => a + weight(c), 0) / totalWeight;
    const servers = snapshot.servers.filter((s) => s.region === region);
    if (share <= 0 || servers.length === 0) return null;
    const sub: SwarmSnapshot = { ...snapshot, servers, clients, workload: { ...snapshot.workload, arrivalRatePerS: snapshot.workload.arrivalRatePerS * share } };
    let choice: GbpCrChoice;
    try {
      choice = chooseGbpCrReservation(sub, fixed, perSlot);
    } catch {
      return null;
    }
    // Splitting the pool by region pays only while each region's chains serve its clients with
    // almost no queueing; under heavy load one pooled plan wins (JFFC's queue then uses every chain).
    const fastestMs = Math.min(...choice.gcaChains.map((k) => k.serviceMs));
    if (!Number.isFinite(choice.responseLowerBoundMs) || choice.responseLowerBoundMs > fastestMs * (1 + bouquetRegionalQueueing)) return null;
    plans.push({ region, choice, chains: choice.gcaChains });
  }
  return plans;
}

/**
 * Spare spans: GBP-CR stops adding chains once they carry the planned load, so at low load most
 * volunteers of a small swarm sit idle and a span has no second holder to fail over to or to check
 * a result against. Here the idle servers keep filling chains the same greedy way at the plan's c
 * (`gbpCrFill`, 'every-server'); their GCA chains (over the spare servers only, so the plan's own
 * chains stay exactly as they were) join the list, and the router takes one only when it is the
 * fastest for a request that fits. Servers of an unfinished last spare chain keep their spans
 * (failovers and checks over a sub-span still use them).
 */
function withSpareSpans(
  snapshot: SwarmSnapshot,
  assignments: ServerAssignment[],
  chains: ChainCapacity[],
  reservation: number,
  perSlot: number,
): { assignments: ServerAssignment[]; chains: ChainCapacity[] } {
  const placed = new Map(assignments.map((a) => [a.serverId, a]));
  const idle = snapshot.servers.filter((s) => placed.get(s.id)?.span === null);
  if (idle.length === 0) return { assignments, chains };
  const { spans } = gbpCrFill({ ...snapshot, servers: idle }, Math.max(1, reservation), undefined, 'every-server');
  if (spans.size === 0) return { assignments, chains };
  const spare = idle.filter((s) => spans.has(s.id)).map((s) => makeAssignment(snapshot, s, spans.get(s.id) ?? null));
  for (const a of spare) placed.set(a.serverId, a);
  const { lIn, lOut } = plannedLengths(snapshot);
  const spareChains = allocateCache(spare, snapshot.model.numBlocks, jobLinkCostMs(serverJobCosts(snapshot, lIn, lOut)))
    .map((k) => (perSlot === 1 ? k : { ...k, capacity: Math.floor(k.capacity * perSlot + 1e-9) }))
    .filter((k) => k.capacity >= 1);
  return {
    assignments: assignments.map((a) => placed.get(a.serverId) ?? a),
    chains: [...chains, ...spareChains].sort((a, b) => a.serviceMs - b.serviceMs),
  };
}

/**
 * Bouquet's placement. Admission by declared length (the `bouquet` combo) lets one slot carry
 * `sessionsPerSlot` sessions, so c is searched with chain capacities in sessions, and in
 * declared-length sessions rather than whole slots where that bound is lower (`planUnits`; the
 * result's `sessionsPerSlot` says so to whoever rebuilds chains over its spans); with clients in
 * several regions each region gets its own GBP-CR chains for its clients (chains through the
 * region's servers only, the GCA chains costed from that region's clients). Options:
 * `concurrentRequests` fixes c; `spareSpans: false` leaves GBP-CR's idle servers idle; `sessionUnits: false` keeps c in whole slots. `reservedSessions` is the largest regional c. Pure in the snapshot;
 * the simulator's and coordinator's re-placements hand it the measured workload (online re-tuning).
 */
export const bouquet: PlacementPolicyFactory = (options: PlacementOptions = {}) =>
  syncPolicy((snapshot): PlacementResult => {
    const t0 = nowMs();
    checkSnapshot(snapshot);
    const perSlot = sessionsPerSlot(snapshot);
    const inSessions = placeIn(snapshot, perSlot, planUnits(snapshot, perSlot, options), options);
    // Planned in declared-length sessions, a volunteer may keep less cache than one whole slot; the
    // longest declaration the model allows must still find a listed chain, so where none does and
    // whole slots would give one, plan in whole slots.
    let result = inSessions.result;
    if (inSessions.planned !== snapshot && !admitsWholeSlot(result)) {
      const whole = wholeSlotResult(snapshot, perSlot, options);
      if (whole !== null && admitsWholeSlot(whole)) result = whole;
    }
    return { ...result, runtimeMs: nowMs() - t0 };
  });

/** Bouquet's placement planned in whole slots; null when whole slots cannot place the swarm. */
function wholeSlotResult(snapshot: SwarmSnapshot, perSlot: number, options: PlacementOptions): PlacementResult | null {
  try {
    return placeIn(snapshot, perSlot, { snapshot, perSlot, choice: null }, options).result;
  } catch (e) {
    if (isBouquetError(e, 'infeasible')) return null;
    throw e;
  }
}

/**
 * True when some listed chain of `result` holds a whole-slot session (the longest declaration a
 * session may make) while empty: every hop keeps at least one single-block slot per block it serves.
 */
export function admitsWholeSlot(result: PlacementResult): boolean {
  const slots = new Map(result.assignments.map((a) => [a.serverId, a.cacheSlots]));
  return (result.chains ?? []).some((c) => c.chain.hops.every((h) => (slots.get(h.serverId) ?? 0) >= h.span.end - h.span.start));
}

/** Bouquet's placement planned in the given units; `planned` is the snapshot the c search ran on. */
function placeIn(snapshot: SwarmSnapshot, perSlot: number, units: PlanUnits, options: PlacementOptions): { result: PlacementResult; planned: SwarmSnapshot } {
  const t0 = nowMs();
  let plan = units;
  const spare = (assignments: ServerAssignment[], chains: ChainCapacity[], reservation: number) =>
    options.spareSpans === false ? { assignments, chains } : withSpareSpans(plan.snapshot, assignments, chains, reservation, plan.perSlot);
  // The spans are the plan's; each volunteer's cache slots are counted on the real model.
  const byId = new Map(snapshot.servers.map((s) => [s.id, s]));
  const real = (assignments: ServerAssignment[]): ServerAssignment[] =>
    plan.snapshot === snapshot
      ? assignments
      : assignments.map((a) => {
          const s = byId.get(a.serverId);
          return s === undefined ? a : makeAssignment(snapshot, s, a.span);
        });
  // The result: the plan's spans with cache counted on the real model, its chains, and the units they count in.
  const finish = (spared: { assignments: ServerAssignment[]; chains: ChainCapacity[] }, reservedSessions: number): { result: PlacementResult; planned: SwarmSnapshot } => {
    const assignments = real(spared.assignments);
    const result: PlacementResult = {
      policy: 'bouquet',
      assignments,
      chains: spared.chains,
      prediction: predictPlacement(snapshot, assignments),
      reservedSessions,
      ...sessionsField(plan.snapshot === snapshot ? plan.perSlot : perSlot),
      runtimeMs: nowMs() - t0,
    };
    return { result, planned: plan.snapshot };
  };
  const regional = options.regional === false ? null : regionalPlans(plan.snapshot, plan.perSlot, options.concurrentRequests);
  if (regional === null) {
    let choice = plan.choice ?? chooseGbpCrReservation(plan.snapshot, options.concurrentRequests, plan.perSlot);
    // Overloaded at every c: sessions per slot are a mean over declarations, and counting on them
    // when every chain queues buys slow many-hop chains (tiny instances, seeds 1–200); GBP-CR's
    // own choice of the most service rate in whole slots is safer.
    if (!Number.isFinite(choice.responseLowerBoundMs) && perSlot > 1) {
      plan = { snapshot, perSlot: 1, choice: null };
      choice = chooseGbpCrReservation(snapshot, options.concurrentRequests, 1);
    }
    const { placement } = choice;
    return finish(spare(placement.assignments, choice.gcaChains, placement.reservation), placement.reservation);
  }
  const spans = new Map<string, NonNullable<PlacementResult['assignments'][number]['span']>>();
  for (const p of regional) for (const a of p.choice.placement.assignments) if (a.span !== null) spans.set(a.serverId, a.span);
  const reservedSessions = Math.max(...regional.map((p) => p.choice.placement.reservation));
  const spared = spare(
    plan.snapshot.servers.map((s) => makeAssignment(plan.snapshot, s, spans.get(s.id) ?? null)),
    regional.flatMap((p) => p.chains).sort((a, b) => a.serviceMs - b.serviceMs),
    reservedSessions,
  );
  return finish(spared, reservedSessions);
}
