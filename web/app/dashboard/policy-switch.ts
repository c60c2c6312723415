// Asks the coordinator (through the core/api client) to change the placement policy in force; moves volunteers, so the page confirms first.
import { CoordinatorClient, type PlacementPolicyChanged } from '../../../core/api/index.ts';

/** Outcome of a switch request, for the confirmation dialog. */
export type PolicySwitchResult = { ok: true; changed: PlacementPolicyChanged } | { ok: false; message: string };

/**
 * POSTs the switch; never throws: network errors, refusals (unknown policy, `infeasible` — the old
 * placement stays) and malformed answers come back as one line with their code.
 */
export async function requestPolicySwitch(origin: string, policy: string, client: CoordinatorClient = new CoordinatorClient({ origin }), modelId?: string): Promise<PolicySwitchResult> {
  try {
    return { ok: true, changed: await client.switchPlacementPolicy(policy, modelId) };
  } catch (e) {
    const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? ` [${(e as { code: string }).code}]` : '';
    return { ok: false, message: `${e instanceof Error ? e.message : String(e)}${code}` };
  }
}
