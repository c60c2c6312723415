// Routing policies (algorithms.md §2–§4): public surface of core/routing, used by sim/ and server/.
import type { RoutingPolicyFactory } from './types.ts';
import { petalsRouting } from './petals.ts';
import { wsRrRouting } from './ws-rr.ts';
import { jffcRouting } from './jffc.ts';
import { bouquetRouting } from './bouquet.ts';

export type {
  ServerLoad,
  RoutingState,
  RoutingSnapshot,
  RoutingRequest,
  RoutingDecision,
  AdmissionMechanism,
  RoutingPolicy,
  RoutingOptions,
  RoutingPolicyFactory,
} from './types.ts';
export {
  petalsRouting,
  petalsPath,
  petalsRetryDelayMs,
  petalsBanMs,
  petalsDefaultDelayMs,
  petalsMaxDelayMs,
  petalsOverheadMs,
  petalsAllocDelayMs,
} from './petals.ts';
export { wsRrRouting, expectedWaitMs } from './ws-rr.ts';
export { jffcRouting, dispatchChains } from './jffc.ts';
export { bouquetRouting } from './bouquet.ts';
export { serverIndex, type ServerIndex } from '../perf/index.ts';

/** Every routing policy by name. */
export const routingPolicies = {
  petals: petalsRouting,
  'ws-rr': wsRrRouting,
  jffc: jffcRouting,
  bouquet: bouquetRouting,
} satisfies Record<string, RoutingPolicyFactory>;

/** A registered routing policy name. */
export type RoutingPolicyName = keyof typeof routingPolicies;

/** True when `name` is a registered routing policy. */
export function isRoutingPolicyName(name: string): name is RoutingPolicyName {
  return Object.prototype.hasOwnProperty.call(routingPolicies, name);
}
