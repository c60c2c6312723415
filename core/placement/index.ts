// Placement policies: public surface of core/placement, and the registry the simulator and the coordinator share.
import type { SwarmSnapshot } from '../swarm/index.ts';
import { bprr } from './bprr.ts';
import { gbpCr } from './gbp-cr.ts';
import { bouquet } from './bouquet.ts';
import { milp } from './milp.ts';
import { petals } from './petals.ts';
import { UnknownPolicyError, type PlacementOptions, type PlacementPolicyFactory, type PlacementResult } from './types.ts';

export {
  InfeasiblePlacementError,
  UnknownPolicyError,
  type ServerAssignment,
  type ChainCapacity,
  type PlacementPrediction,
  type MilpReport,
  type PlacementResult,
  type PlacementOptions,
  type PlacementPolicy,
  type PlacementPolicyFactory,
} from './types.ts';
export { maxBlocksFor, swarmCapacity, capacityShortfall, overBudget, type BlockSizes, type SwarmCapacity } from './capacity.ts';
export { predictPlacement, firstUncoveredBlock, makeAssignment, plannedLengths } from './common.ts';
export {
  petals,
  chooseBestStart,
  petalsBlockCount,
  petalsCacheReservePerBlock,
  petalsCacheSlots,
  petalsThroughput,
  petalsShouldMove,
  petalsBalanceQuality,
} from './petals.ts';
export {
  bprr,
  cgBpPlacement,
  bprrBlockCount,
  bprrSessionCapacity,
  bprrSessions,
  bprrMaxSessions,
  theorem2BoundMs,
  type CgBpPlacement,
  type CgBpServer,
} from './bprr.ts';
export {
  gbpCr,
  gbpCrPlacement,
  gbpCrBlockCount,
  gbpCrMaxReservation,
  gbpCrReservationCap,
  chooseGbpCrReservation,
  jffcResponseTimeBoundMs,
  gbpCrTargetLoad,
  gbpCrTieTolerance,
  type ServiceChain,
  type GbpCrPlacement,
  type GbpCrChoice,
} from './gbp-cr.ts';
export { bouquet, sessionsPerSlot, slotTokensOf } from './bouquet.ts';
export { milp, loadHighs, solveBprrMilp, buildBprrMilp, MilpNoSolutionError, milpDefaultTimeLimitMs, type BprrMilpSolution, type BprrMilpModel } from './milp.ts';
export { bprrObjectiveMs, requestClients, type BprrObjective } from './objective.ts';

/** Every placement policy by the name the CLI and the coordinator use. */
export const placementPolicies = { petals, bprr, 'gbp-cr': gbpCr, milp, bouquet } satisfies Record<string, PlacementPolicyFactory>;

/** One line per policy for `--help` texts (what it does and which options it reads). */
export const placementPolicyDescriptions: Record<PlacementPolicyName, string> = {
  petals: 'PETALS as its code does it: fixed cache reserve, servers join onto the weakest blocks (options: seed, rebalance)',
  bprr: 'BPRR CG-BP: cache for R sessions on every held block, Theorem-2 bound (options: concurrentRequests = R, else Algorithm 2)',
  'gbp-cr': 'GBP-CR: disjoint chains with cache reservation c tuned by the JFFC response-time bound, GCA chains (options: concurrentRequests = c)',
  bouquet: 'ours: GBP-CR chains with c chosen for sessions admitted by declared length, one plan per client region (options: concurrentRequests = c)',
  milp: 'exact BPRR MILP with HiGHS: only tiny instances (about 5 servers, R <= 3, small L) solve; larger ones stop at the time limit with a gap (options: concurrentRequests, timeLimitMs)',
};

/** A policy name of `placementPolicies`. */
export type PlacementPolicyName = keyof typeof placementPolicies;


/** Runs the named placement policy on a snapshot; rejects with UnknownPolicyError for an unknown name. */
export function placeBlocks(name: string, snapshot: SwarmSnapshot, options?: PlacementOptions): Promise<PlacementResult> {
  if (!Object.hasOwn(placementPolicies, name)) {
    return Promise.reject(new UnknownPolicyError(name, `unknown placement policy '${name}' (known: ${Object.keys(placementPolicies).join(', ')})`));
  }
  return placementPolicies[name as PlacementPolicyName](options)(snapshot);
}
