// Runs scenarios: resolves a policy name to a placement + routing pair, places blocks, simulates.
import { InfeasiblePlacementError, UnknownPolicyError, placeBlocks, placementPolicies, type PlacementResult } from '../core/placement/index.ts';
import { isRoutingPolicyName, routingPolicies, type RoutingPolicy } from '../core/routing/index.ts';
import { generateRequests } from './arrivals.ts';
import { simulate, type SimResult } from './engine.ts';
import { streamRandom } from './random.ts';
import type { PolicyCombo, Scenario } from './scenario.ts';

/**
 * Resolves a CLI policy name: the scenario's own combos and the built-in ones (`petals`, `bprr`,
 * `followup` / `gbp-cr`), or a `placement/routing` pair such as `bprr/jffc`.
 */
export function resolvePolicy(scenario: Scenario, name: string): PolicyCombo {
  const named = Object.hasOwn(scenario.policies, name) ? scenario.policies[name] : undefined;
  const combo: PolicyCombo | undefined =
    named ?? (name.includes('/') ? { placement: name.slice(0, name.indexOf('/')), routing: name.slice(name.indexOf('/') + 1) } : undefined);
  if (combo === undefined) {
    throw new UnknownPolicyError(
      name,
      `unknown policy '${name}' (known: ${Object.keys(scenario.policies).join(', ')}, or placement/routing with placement in {${Object.keys(placementPolicies).join(', ')}} and routing in {${Object.keys(routingPolicies).join(', ')}})`,
    );
  }
  if (!Object.hasOwn(placementPolicies, combo.placement)) {
    throw new UnknownPolicyError(combo.placement, `policy '${name}': unknown placement policy '${combo.placement}' (known: ${Object.keys(placementPolicies).join(', ')})`);
  }
  if (!isRoutingPolicyName(combo.routing)) {
    throw new UnknownPolicyError(combo.routing, `policy '${name}': unknown routing policy '${combo.routing}' (known: ${Object.keys(routingPolicies).join(', ')})`);
  }
  return combo;
}

/** Builds the routing policy of a combo. */
export function routingFor(combo: PolicyCombo): RoutingPolicy {
  if (!isRoutingPolicyName(combo.routing)) throw new UnknownPolicyError(combo.routing, `unknown routing policy '${combo.routing}'`);
  return routingPolicies[combo.routing](combo.routingOptions);
}

/** Places blocks for a combo (seeded where the policy draws randomness). */
export async function placeFor(scenario: Scenario, combo: PolicyCombo, seed: number): Promise<PlacementResult> {
  const placement = await placeBlocks(combo.placement, scenario.snapshot, { seed, ...combo.placementOptions });
  if (placement.assignments.every((a) => a.span === null)) throw new InfeasiblePlacementError('the placement hosts no block');
  return placement;
}

/** Places and simulates one policy on a scenario for one seed. Deterministic for a seed (except `timing`). */
export async function runScenario(scenario: Scenario, policyName: string, seed: number): Promise<SimResult & { placementResult: PlacementResult }> {
  const combo = resolvePolicy(scenario, policyName);
  const placement = await placeFor(scenario, combo, seed);
  const requests = generateRequests(scenario.arrivals, scenario.snapshot.clients, streamRandom(seed, 'arrivals'));
  const cfg = {
    swarm: scenario.snapshot,
    placement,
    routing: routingFor(combo),
    requests,
    random: streamRandom(seed, 'churn'),
    ...(scenario.churn !== undefined ? { churn: scenario.churn } : {}),
  };
  return { ...simulate(cfg), placementResult: placement };
}
