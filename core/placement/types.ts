// Contract of every placement policy: a pure function of a swarm snapshot to block ranges per server.
import { BouquetError, registerErrorKind, type ErrorData } from '../errors/index.ts';
import type { BlockSpan, Chain, SwarmSnapshot, TimeBreakdown } from '../swarm/index.ts';

/** What one server is asked to host. */
export interface ServerAssignment {
  serverId: string;
  /** Blocks it hosts, or null when the policy leaves it idle (GBP-CR may). */
  span: BlockSpan | null;
  /** n_j = ⌊(M_j − s_m · m_j) / s_c⌋: single-block session caches left after the weights. */
  cacheSlots: number;
}

/** A chain with the number of sessions it can carry at once (GCA's c_k). */
export interface ChainCapacity {
  chain: Chain;
  /** c_k: concurrent sessions this chain can carry. */
  capacity: number;
  /** T_k: service time of one job on this chain for the planned workload, ms. */
  serviceMs: number;
}

/** What a policy predicts for its placement, per request of the planned workload. */
export interface PlacementPrediction {
  /** Average per-token time T / l_out the performance model predicts with no waiting, ms. */
  perTokenMs: number;
  /** The same split by cause, per request (not per token), ms. */
  breakdown: TimeBreakdown;
  /** Upper bound on the average per-token time where the policy proves one (BPRR Theorem 2), ms. */
  perTokenBoundMs?: number;
}

/** Solver figures of the exact MILP. */
export interface MilpReport {
  status: string;
  /** Objective of the best integer solution found (the MILP's units: ms summed over requests). */
  objective: number;
  /** Best proven lower bound on the objective. */
  bound: number;
  /** Relative gap (objective − bound) / objective. */
  gap: number;
}

/** Output of a placement policy. */
export interface PlacementResult {
  policy: string;
  assignments: ServerAssignment[];
  /** Chains with capacities (GCA), for routing policies that dispatch on chains (JFFC). */
  chains?: ChainCapacity[];
  prediction: PlacementPrediction;
  /** The R (or c) the policy reserved cache for, when it has one. */
  reservedSessions?: number;
  /**
   * Sessions one single-block cache slot carries in this placement's chain capacities (bouquet
   * under admission by declared length); GCA over the spans in force after churn (`dispatchChains`)
   * counts slots in the same units. Absent: 1, a session holds a whole slot per block.
   */
  sessionsPerSlot?: number;
  milp?: MilpReport;
  /** Wall time the policy took, ms. */
  runtimeMs: number;
}

/** Knobs a policy may take; each policy documents the ones it reads. */
export interface PlacementOptions {
  /** Seed for policies with randomness (PETALS' join order). */
  seed?: number;
  /** Time limit for the MILP, ms. */
  timeLimitMs?: number;
  /** Override of R / c. */
  concurrentRequests?: number;
  /** PETALS: run rebalancing rounds after the joins. */
  rebalance?: boolean;
  /** Bouquet: plan each client region apart when it pays (default true); false: one plan for all. */
  regional?: boolean;
  /** Bouquet: servers GBP-CR leaves idle build spare chains (default true); false: they stay idle, as in the paper. */
  spareSpans?: boolean;
  /**
   * Bouquet: under admission by declared length, count c in declared-length sessions when sizing
   * each volunteer's blocks (default true); false: in whole slots, as GBP-CR does.
   */
  sessionUnits?: boolean;
}

/** A placement policy: pure in its inputs (async only because the MILP solver is). */
export type PlacementPolicy = (snapshot: SwarmSnapshot) => Promise<PlacementResult>;
/** Builds a policy from its options; registered in `placementPolicies`. */
export type PlacementPolicyFactory = (options?: PlacementOptions) => PlacementPolicy;

/** Thrown when no placement can serve the workload; `reason` says why in the user's words. */
export class InfeasiblePlacementError extends BouquetError<'infeasible'> {
  /** `details`: numbers a caller may act on (e.g. the blocks the swarm can hold), carried beside `reason`. */
  constructor(reason: string, details: ErrorData = {}) {
    super('infeasible', `infeasible: ${reason}`, { ...details, reason });
  }

  /** Why, in the user's words. */
  get reason(): string {
    const r = this.data?.reason;
    return typeof r === 'string' ? r : this.message;
  }
}
registerErrorKind('InfeasiblePlacementError', InfeasiblePlacementError);

/** A placement or routing policy name that is not registered (one class for every such name: simulator, CLI, server). */
export class UnknownPolicyError extends BouquetError<'unknown-policy'> {
  constructor(policy: string, message = `unknown policy '${policy}'`) {
    super('unknown-policy', message, { policy });
  }

  /** The name that was asked for. */
  get policy(): string {
    const p = this.data?.policy;
    return typeof p === 'string' ? p : '';
  }
}
registerErrorKind('UnknownPolicyError', UnknownPolicyError);
