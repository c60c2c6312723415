// Runs scenarios: resolves a policy name to a placement + routing pair, places blocks, simulates.
import { InfeasiblePlacementError, placeBlocks, type PlacementResult } from '../core/placement/index.ts';
import { placementPolicyFor, resolveCombo, routingPolicyFor, type PolicyCombo } from '../core/policies/index.ts';
import type { RoutingPolicy } from '../core/routing/index.ts';
import { generateRequests, lengthLawMean, type ArrivalSpec } from './arrivals.ts';
import { simulateAsync, type SimConfig, type SimResult } from './engine.ts';
import { streamRandom } from './random.ts';
import type { Scenario } from './scenario.ts';

/**
 * Resolves a CLI policy name: the scenario's own combos and the built-in ones (`petals`, `bprr`,
 * `followup` / `gbp-cr`, core/policies), or a `placement/routing` pair such as `bprr/jffc`.
 * Throws UnknownPolicyError (code `unknown-policy`).
 */
export function resolvePolicy(scenario: Scenario, name: string): PolicyCombo {
  return resolveCombo(name, scenario.policies);
}

/** Builds the routing policy of a combo. Throws UnknownPolicyError. */
export function routingFor(combo: PolicyCombo): RoutingPolicy {
  return routingPolicyFor(combo.routing, combo.routingOptions);
}

/**
 * Mean declared length of the scenario's requests (prompt + declared maxNewTokens), tokens, from
 * its arrival spec (the plan, like the workload's means; never a drawn request's actual length).
 */
export function plannedDeclaredTokens(spec: ArrivalSpec): number {
  switch (spec.process) {
    case 'poisson':
    case 'bursty': {
      const out = spec.maxNewTokens ?? (typeof spec.outputTokens === 'number' ? spec.outputTokens : spec.outputTokens.max);
      return lengthLawMean(spec.inputTokens) + out;
    }
    case 'trace': {
      const n = Math.max(1, spec.entries.length);
      return spec.entries.reduce((a, e) => a + e.inputTokens + Math.max(e.outputTokens, e.maxNewTokens ?? e.outputTokens), 0) / n;
    }
    default: {
      const never: never = spec;
      return never;
    }
  }
}

/**
 * The snapshot a combo plans on: under admission by declared length its workload carries the
 * planned mean declared length; with the service model's contention, the snapshot carries it (the
 * constants measured on our runtime, which a policy may read: bouquet's router does).
 */
function plannedSnapshot(scenario: Scenario, combo: PolicyCombo): Scenario['snapshot'] {
  let snapshot = scenario.snapshot;
  const contention = scenario.service?.contention;
  if (contention !== undefined && snapshot.contention === undefined) snapshot = { ...snapshot, contention };
  if (combo.reservation !== 'declared' || snapshot.workload.meanDeclaredTokens !== undefined) return snapshot;
  return { ...snapshot, workload: { ...snapshot.workload, meanDeclaredTokens: plannedDeclaredTokens(scenario.arrivals) } };
}

/** Places blocks for a combo (seeded where the policy draws randomness). */
export async function placeFor(scenario: Scenario, combo: PolicyCombo, seed: number): Promise<PlacementResult> {
  const placement = await placeBlocks(combo.placement, plannedSnapshot(scenario, combo), { seed, ...combo.placementOptions });
  if (placement.assignments.every((a) => a.span === null)) throw new InfeasiblePlacementError('the placement hosts no block');
  return placement;
}

/** Places and simulates one policy on a scenario for one seed. Deterministic for a seed (except `timing`). */
export async function runScenario(scenario: Scenario, policyName: string, seed: number): Promise<SimResult & { placementResult: PlacementResult }> {
  const combo = resolvePolicy(scenario, policyName);
  const placement = await placeFor(scenario, combo, seed);
  const requests = generateRequests(scenario.arrivals, scenario.snapshot.clients, streamRandom(seed, 'arrivals'));
  const cfg: SimConfig = {
    swarm: plannedSnapshot(scenario, combo),
    placement,
    routing: routingFor(combo),
    requests,
    random: streamRandom(seed, 'churn'),
    // After churn the same policy places the online volunteers again, as the live coordinator does.
    replacement: placementPolicyFor(combo.placement, { seed, ...combo.placementOptions }),
  };
  if (scenario.churn !== undefined) cfg.churn = scenario.churn;
  if (combo.reservation !== undefined) cfg.reservation = combo.reservation;
  if (combo.retune === true) cfg.retune = true;
  if (combo.rebalance === true) cfg.rebalance = true;
  if (scenario.service !== undefined) {
    cfg.service = scenario.service;
    cfg.serviceRandom = streamRandom(seed, 'service');
  }
  return { ...(await simulateAsync(cfg)), placementResult: placement };
}
