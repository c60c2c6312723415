// Resolves placement and routing policy names to the core implementations the simulator uses too.
import { placementPolicies, type PlacementOptions, type PlacementPolicy } from '../core/placement/index.ts';
import { isRoutingPolicyName, routingPolicies, type RoutingPolicy } from '../core/routing/index.ts';

/** A policy name that is not registered; `code` is machine-readable. */
export class UnknownPolicyNameError extends Error {
  readonly code = 'unknown-policy' as const;
  constructor(kind: 'placement' | 'routing', name: string, known: readonly string[]) {
    super(`unknown ${kind} policy '${name}' (known: ${known.join(', ')})`);
    this.name = 'UnknownPolicyNameError';
  }
}

/** Names of the registered placement policies. */
export const placementPolicyNames: readonly string[] = Object.keys(placementPolicies);
/** Names of the registered routing policies. */
export const routingPolicyNames: readonly string[] = Object.keys(routingPolicies);

/** The placement policy registered under `name`, built with `options`. */
export function placementPolicy(name: string, options?: PlacementOptions): PlacementPolicy {
  if (!Object.hasOwn(placementPolicies, name)) throw new UnknownPolicyNameError('placement', name, placementPolicyNames);
  return placementPolicies[name as keyof typeof placementPolicies](options);
}

/** The routing policy registered under `name`. */
export function routingPolicy(name: string): RoutingPolicy {
  if (!isRoutingPolicyName(name)) throw new UnknownPolicyNameError('routing', name, routingPolicyNames);
  return routingPolicies[name]();
}

/**
 * The policies whose predictions a dashboard compares: every registered one except the exact MILP
 * (it solves only tiny swarms and may take its whole time limit on each join).
 */
export function predictionPolicies(options?: PlacementOptions): Record<string, PlacementPolicy> {
  const out: Record<string, PlacementPolicy> = {};
  for (const name of placementPolicyNames) if (name !== 'milp') out[name] = placementPolicy(name, options);
  return out;
}
