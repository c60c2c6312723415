// The simulator's plain data: configuration, events and their tie-break table, per-request and per-server runs, results.
import type { Chain, ServerSpec, SwarmSnapshot } from '../core/swarm/index.ts';
import type { ActiveSession } from '../core/perf/index.ts';
import type { PlacementPolicy, PlacementResult, ServerAssignment } from '../core/placement/index.ts';
import type { RoutingPolicy, ServerLoad } from '../core/routing/index.ts';
import type { Random } from './random.ts';
import type { SimRequest } from './arrivals.ts';
import type { RequestOutcome, SimMetrics } from './metrics.ts';
import type { ServiceSpec } from './service.ts';
import type { CacheReservation } from '../core/dispatch/index.ts';

/** Volunteers leaving and coming back: alternating exponential online / offline periods. */
export interface ChurnSpec {
  /** Mean time a volunteer stays online, ms. */
  meanOnlineMs: number;
  /** Mean time it stays away before it comes back with the same blocks (weights cached), ms. */
  meanOfflineMs: number;
  /** Ids of the volunteers that churn (default: all). */
  serverIds?: string[];
  /**
   * Most volunteers that already hold blocks one re-placement may move to cover a gap (the live
   * coordinator's `--max-moves`, default 1 as there).
   */
  maxMovesPerRound?: number;
}

/** One scripted leave or join. */
export interface ChurnTraceEntry {
  atMs: number;
  serverId: string;
  kind: 'server-leave' | 'server-join';
}

/** Everything one run needs. */
export interface SimConfig {
  swarm: SwarmSnapshot;
  placement: PlacementResult;
  routing: RoutingPolicy;
  requests: readonly SimRequest[];
  churn?: ChurnSpec;
  /** Scripted churn instead of (or besides) random periods: these leaves and joins at these times (a live trace replayed). */
  churnTrace?: readonly ChurnTraceEntry[];
  /**
   * The placement policy re-run on the online volunteers after churn (`simulateAsync` only), as the
   * live coordinator does; its proposal is reconciled with the move budget. Without it (or in
   * `simulate`) the first placement's proposal is reconciled.
   */
  replacement?: PlacementPolicy;
  /** Churn randomness (its own stream, independent of the arrivals). */
  random: Random;
  /**
   * How much cache admission reserves per session (the policy combo's choice: bouquet's `declared`);
   * absent: `service.reservation`, else a whole slot.
   */
  reservation?: CacheReservation;
  /**
   * Re-placements see the workload measured so far (arrival rate, mean prompt, mean declared length,
   * mean output of the finished requests) instead of the scenario's (bouquet's online re-tuning).
   */
  retune?: boolean;
  /**
   * Re-placements after churn may also move covering volunteers to their proposed spans when the
   * predicted gain over their expected stay (churn.meanOnlineMs) outweighs the reload
   * (core/dispatch `rebalanceMoves`), within the move budget (bouquet's churn-aware re-placement).
   */
  rebalance?: boolean;
  /** The service model's options (sim/service.ts); absent: core/perf's nominal times, a whole slot per session. */
  service?: ServiceSpec;
  /** The service model's randomness (server speeds, then step jitter); needed when it draws anything. */
  serviceRandom?: Random;
  /** Stop after this many events (a guard against runaway runs); default 50 million. */
  maxEvents?: number;
  /** Called after each event with a read-only view of the run (tests check invariants with it). */
  observe?: (event: SimEvent, view: SimView) => void;
}

/** What an observer may read after an event. */
export interface SimView {
  nowMs: number;
  /** Requests waiting in the central queue (JFFC). */
  queued: number;
  /** Sessions per chain index (JFFC). */
  chainSessions: readonly number[];
  /** Live load per server. */
  servers: ReadonlyMap<string, ServerLoad>;
  /** The spans in force (the placement, then what reconcile-on-churn made of it). */
  placement: readonly ServerAssignment[];
  /** The chain a request's session holds now, or null. */
  sessionChain(requestId: number): Chain | null;
}

/** The simulator's events: plain data. */
export type SimEvent =
  | { kind: 'finish'; atMs: number; requestId: number; session: number }
  | { kind: 'server-leave'; atMs: number; serverId: string }
  | { kind: 'server-join'; atMs: number; serverId: string }
  | { kind: 'replace'; atMs: number }
  | { kind: 'start'; atMs: number; requestId: number; session: number }
  | { kind: 'retry'; atMs: number; requestId: number; front: boolean }
  | { kind: 'arrival'; atMs: number; requestId: number };

/** Tie-break rank of each event kind at equal times (see the table at the top of this file). */
export const eventRank: Record<SimEvent['kind'], number> = {
  finish: 1,
  'server-leave': 2,
  'server-join': 3,
  replace: 4,
  start: 5,
  retry: 6,
  arrival: 7,
};


export interface Hold {
  server: ServerRun;
  entry: ActiveSession;
}

export interface Session {
  seq: number;
  chain: Chain;
  chainIndex: number | undefined;
  holds: Hold[];
  /** When it started serving; null while a WS-RR booking waits. */
  startMs: number | null;
  prefillMs: number;
  totalMs: number;
  /** Compute per server over the whole session, ms (for utilization). */
  computeByServer: Map<string, number>;
}

/** Per-request outcome the metrics read. */
export interface RequestRun extends RequestOutcome {
  req: SimRequest;
  generated: number;
  failures: Map<string, number>;
  bannedUntilMs: Map<string, number>;
  /** Consecutive failed admissions (PETALS backoff index). */
  attempts: number;
  session: Session | null;
  sessionSeq: number;
}

/** Per-server accounting the metrics read. */
export interface ServerRun {
  spec: ServerSpec;
  slots: number;
  load: { online: boolean; freeSlots: number; sessions: ActiveSession[] };
  holders: Set<RequestRun>;
  slotMsIntegral: number;
  lastChangeMs: number;
  busyMs: number;
}

/** Timing of the policy code itself (wall clock; not deterministic, kept apart from the results). */
export interface AlgorithmTiming {
  routingCalls: number;
  routingMsTotal: number;
  routingMsMax: number;
  placementMs: number;
}

/** The result of one run. */
export interface SimResult {
  policy: { placement: string; routing: string };
  metrics: SimMetrics;
  timing: AlgorithmTiming;
  /** The leaves and joins the run saw up to its end, in time order (scripted and drawn churn alike). */
  churn: readonly ChurnTraceEntry[];
}
