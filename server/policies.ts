// Resolves placement and routing policy names to the core implementations the simulator uses too.
import { UnknownPolicyError, placementPolicies, type PlacementOptions, type PlacementPolicy } from '../core/placement/index.ts';
import { isRoutingPolicyName, routingPolicies, type RoutingPolicy } from '../core/routing/index.ts';
import { milpDefaultTimeLimitMs } from '../core/placement/index.ts';
import type { PlacementThread } from './placement/thread.ts';

function unknownPolicy(kind: 'placement' | 'routing', name: string, known: readonly string[]): UnknownPolicyError {
  return new UnknownPolicyError(name, `unknown ${kind} policy '${name}' (known: ${known.join(', ')})`);
}

/** Names of the registered placement policies. */
export const placementPolicyNames: readonly string[] = Object.keys(placementPolicies);
/** Names of the registered routing policies. */
export const routingPolicyNames: readonly string[] = Object.keys(routingPolicies);

/** Policies that can take seconds (the exact MILP): with a placement thread they run there, off the event loop. */
export const threadedPlacementPolicies: readonly string[] = ['milp'];

/** Time the MILP gets for a dashboard prediction unless the options set one, ms (a prediction must come back quickly). */
export const milpPredictionTimeLimitMs = 5_000;

/** How long the placement thread may take on a job before it is restarted: the MILP's limit plus a margin, ms. */
export function placementThreadDeadlineMs(options: PlacementOptions): number {
  return (options.timeLimitMs ?? milpDefaultTimeLimitMs) + 15_000;
}

/**
 * The placement policy registered under `name`, built with `options`. With `thread`, the slow ones
 * (`threadedPlacementPolicies`) run in that worker thread instead of on the caller's thread.
 */
export function placementPolicy(name: string, options?: PlacementOptions, thread?: PlacementThread): PlacementPolicy {
  if (!Object.hasOwn(placementPolicies, name)) throw unknownPolicy('placement', name, placementPolicyNames);
  if (thread !== undefined && threadedPlacementPolicies.includes(name)) return thread.policy(name, options);
  return placementPolicies[name as keyof typeof placementPolicies](options);
}

/** The routing policy registered under `name`. */
export function routingPolicy(name: string): RoutingPolicy {
  if (!isRoutingPolicyName(name)) throw unknownPolicy('routing', name, routingPolicyNames);
  return routingPolicies[name]();
}

/**
 * The policies whose predictions a dashboard compares. The exact MILP is among them only with a
 * placement thread (it may take its whole time limit, `milpPredictionTimeLimitMs` unless the options
 * say otherwise, and solves only small swarms; larger ones show its error instead).
 */
export function predictionPolicies(options: PlacementOptions = {}, thread?: PlacementThread): Record<string, PlacementPolicy> {
  const out: Record<string, PlacementPolicy> = {};
  for (const name of placementPolicyNames) {
    if (threadedPlacementPolicies.includes(name)) {
      if (thread !== undefined) out[name] = placementPolicy(name, { timeLimitMs: milpPredictionTimeLimitMs, ...options }, thread);
    } else {
      out[name] = placementPolicy(name, options);
    }
  }
  return out;
}
