// The coordinator's view of core/policies' registry: the MILP in its worker thread, and the dashboard's prediction set.
import { milpDefaultTimeLimitMs, type PlacementOptions, type PlacementPolicy } from '../core/placement/index.ts';
import { placementPolicyFor, placementPolicyNames, routingPolicyFor } from '../core/policies/index.ts';
import type { RoutingOptions, RoutingPolicy } from '../core/routing/index.ts';
import type { PlacementThread } from './placement/thread.ts';

export { placementPolicyNames, routingPolicyNames } from '../core/policies/index.ts';

/**
 * Policies that run in a placement thread when there is one: all of them. The exact MILP takes
 * seconds, and the others' cost grows with the swarm (GBP-CR's bound with its slots), so none runs
 * on the event loop that answers volunteers and clients; each has a deadline (`placementThreadDeadlineMs`).
 */
export const threadedPlacementPolicies: readonly string[] = placementPolicyNames;

/** Deadline of a placement job of a policy other than the MILP (they take milliseconds on real swarms), ms. */
export const fastPlacementDeadlineMs = 10_000;

/** Time the MILP gets for a dashboard prediction unless the options set one, ms (a prediction must come back quickly). */
export const milpPredictionTimeLimitMs = 5_000;

/**
 * How long the placement thread may take on a job before it is restarted (the job fails with
 * `placement-timeout`): the MILP's limit plus a margin, `fastPlacementDeadlineMs` for the others, ms.
 */
export function placementThreadDeadlineMs(options: PlacementOptions, policy = 'milp'): number {
  if (policy !== 'milp') return fastPlacementDeadlineMs;
  return (options.timeLimitMs ?? milpDefaultTimeLimitMs) + 15_000;
}

/**
 * The placement policy registered under `name`, built with `options`. With `thread`, the slow ones
 * (`threadedPlacementPolicies`) run in that worker thread instead of on the caller's thread.
 * Throws UnknownPolicyError (code `unknown-policy`).
 */
export function placementPolicy(name: string, options?: PlacementOptions, thread?: PlacementThread): PlacementPolicy {
  const local = placementPolicyFor(name, options); // validates the name
  if (thread !== undefined && threadedPlacementPolicies.includes(name)) return thread.policy(name, options);
  return local;
}

/** The routing policy registered under `name`, built with `options` (a combo's `routingOptions`). Throws UnknownPolicyError (code `unknown-policy`). */
export function routingPolicy(name: string, options?: RoutingOptions): RoutingPolicy {
  return routingPolicyFor(name, options);
}

/**
 * The policies whose predictions a dashboard compares, each run in `thread` when given (off the
 * event loop, with a deadline). The exact MILP is among them only with a placement thread (it may take its whole time limit, `milpPredictionTimeLimitMs` unless the options
 * say otherwise, and solves only small swarms; larger ones show its error instead).
 */
export function predictionPolicies(options: PlacementOptions = {}, thread?: PlacementThread): Record<string, PlacementPolicy> {
  const out: Record<string, PlacementPolicy> = {};
  for (const name of placementPolicyNames) {
    if (name === 'milp') {
      if (thread !== undefined) out[name] = placementPolicy(name, { timeLimitMs: milpPredictionTimeLimitMs, ...options }, thread);
    } else {
      out[name] = placementPolicy(name, options, thread);
    }
  }
  return out;
}
