// The one policy registry: placement and routing policies and their named combos, shared by the simulator and `bouquet serve`.
import { placementPolicies, UnknownPolicyError, type PlacementOptions, type PlacementPolicy, type PlacementPolicyName } from '../placement/index.ts';
import type { CacheReservation } from '../cache/index.ts';
import { isRoutingPolicyName, routingPolicies, type RoutingOptions, type RoutingPolicy } from '../routing/index.ts';

/** A placement + routing pair as a scenario, the CLI or the coordinator names it. */
export interface PolicyCombo {
  placement: string;
  routing: string;
  placementOptions?: PlacementOptions;
  routingOptions?: RoutingOptions;
  /**
   * How much cache admission reserves per session under this combo, in the simulator and in the live
   * coordinator's bookings: `declared` its declared length (prompt + maxNewTokens, in 16-token
   * blocks), `slot` a whole slot; absent: what the swarm does (a scenario's `service.reservation`,
   * else a whole slot — the coordinator's default).
   */
  reservation?: CacheReservation;
  /** Re-placements plan for the workload measured so far (arrival rate, lengths) instead of the declared one. */
  retune?: boolean;
  /**
   * After churn, also move a covering volunteer to its proposed span when the predicted gain over
   * its expected stay outweighs the reload (core/dispatch `rebalanceMoves`), within the move budget.
   */
  rebalance?: boolean;
}

/**
 * The named combos: a name means the same placement + routing pair in `bouquet sim`/`compare` and in
 * `bouquet serve`. `bprr` is BPRR's paper (CG-BP + WS-RR), `followup` its follow-up (GBP-CR + JFFC),
 * `petals` PETALS as its code does it. `bouquet` is ours (docs/bouquet.md): its placement and router,
 * admission by declared length and re-placements re-tuned to the measured workload;
 * `followup-declared` is the ablation, the follow-up with admission by declared length alone (its
 * JFFC counts a chain free by the cache its hops have, in 16-token blocks, not by c_k sessions).
 */
export const policyCombos = {
  petals: { placement: 'petals', routing: 'petals' },
  bprr: { placement: 'bprr', routing: 'ws-rr' },
  followup: { placement: 'gbp-cr', routing: 'jffc' },
  'gbp-cr': { placement: 'gbp-cr', routing: 'jffc' },
  'followup-declared': { placement: 'gbp-cr', routing: 'jffc', reservation: 'declared', routingOptions: { jffcFreeBy: 'cache' } },
  bouquet: { placement: 'bouquet', routing: 'bouquet', routingOptions: { ownChains: true }, reservation: 'declared', retune: true, rebalance: true },
} as const satisfies Record<string, PolicyCombo>;

/** A combo name of `policyCombos`. */
export type PolicyComboName = keyof typeof policyCombos;

/**
 * The combo `bouquet serve` runs unless told otherwise: bouquet, the best policy measured — at or
 * below the best of BPRR and the follow-up on every bundled scenario (docs/results.md), with spare
 * spans so that a small live swarm keeps a second holder of each span for failover and
 * verified-results checks. Its browser-swarm target (0.75× the follow-up) is still missed (0.769×).
 */
export const defaultServeCombo: PolicyComboName = 'bouquet';

/** Names of the registered placement policies. */
export const placementPolicyNames: readonly string[] = Object.keys(placementPolicies);
/** Names of the registered routing policies. */
export const routingPolicyNames: readonly string[] = Object.keys(routingPolicies);
/** Names of the built-in combos. */
export const policyComboNames: readonly string[] = Object.keys(policyCombos);

function unknown(name: string, what: string, known: readonly string[], context = ''): UnknownPolicyError {
  return new UnknownPolicyError(name, `${context}unknown ${what} '${name}' (known: ${known.join(', ')})`);
}

/** True when `name` is a registered placement policy. */
export function isPlacementPolicyName(name: string): name is PlacementPolicyName {
  return Object.hasOwn(placementPolicies, name);
}

/**
 * Resolves a policy name to its pair: a combo of `combos` (default: the built-in ones; a scenario
 * adds its own), or `placement/routing` such as `bprr/jffc`. Both parts are checked against the
 * registries. Throws UnknownPolicyError (code `unknown-policy`).
 */
export function resolveCombo(name: string, combos: Readonly<Record<string, PolicyCombo>> = policyCombos): PolicyCombo {
  const named = Object.hasOwn(combos, name) ? combos[name] : undefined;
  const slash = name.indexOf('/');
  const combo: PolicyCombo | undefined = named ?? (slash > 0 ? { placement: name.slice(0, slash), routing: name.slice(slash + 1) } : undefined);
  if (combo === undefined) {
    throw new UnknownPolicyError(
      name,
      `unknown policy '${name}' (known: ${Object.keys(combos).join(', ')}, or placement/routing with placement in {${placementPolicyNames.join(', ')}} and routing in {${routingPolicyNames.join(', ')}})`,
    );
  }
  if (!isPlacementPolicyName(combo.placement)) throw unknown(combo.placement, 'placement policy', placementPolicyNames, `policy '${name}': `);
  if (!isRoutingPolicyName(combo.routing)) throw unknown(combo.routing, 'routing policy', routingPolicyNames, `policy '${name}': `);
  return combo;
}

/**
 * The combo a live coordinator runs for `name` (a combo or `placement/routing`, as `resolveCombo`),
 * with `placement` / `routing` overriding its parts: an overridden part drops the combo's options
 * for that part (they belong to the combo's own policy); admission (`reservation`), `retune` and
 * `rebalance` stay the combo's. The simulator runs the same fields (sim/run.ts), so a name means
 * the same policy in both. Throws UnknownPolicyError (code `unknown-policy`).
 */
export function serveCombo(name: string, overrides: { placement?: string | undefined; routing?: string | undefined } = {}): PolicyCombo {
  const base = resolveCombo(name);
  const out: PolicyCombo = { ...base };
  if (overrides.placement !== undefined && overrides.placement !== base.placement) {
    if (!isPlacementPolicyName(overrides.placement)) throw unknown(overrides.placement, 'placement policy', placementPolicyNames);
    out.placement = overrides.placement;
    delete out.placementOptions;
  }
  if (overrides.routing !== undefined && overrides.routing !== base.routing) {
    if (!isRoutingPolicyName(overrides.routing)) throw unknown(overrides.routing, 'routing policy', routingPolicyNames);
    out.routing = overrides.routing;
    delete out.routingOptions;
  }
  return out;
}

/** The placement policy registered under `name`, built with `options`. Throws UnknownPolicyError. */
export function placementPolicyFor(name: string, options?: PlacementOptions): PlacementPolicy {
  if (!isPlacementPolicyName(name)) throw unknown(name, 'placement policy', placementPolicyNames);
  return placementPolicies[name](options);
}

/** The routing policy registered under `name`, built with `options`. Throws UnknownPolicyError. */
export function routingPolicyFor(name: string, options?: RoutingOptions): RoutingPolicy {
  if (!isRoutingPolicyName(name)) throw unknown(name, 'routing policy', routingPolicyNames);
  return routingPolicies[name](options);
}

export { volunteerModelPick } from './model-pick.ts';
