// Asks the coordinator (through the core/api client) to change the placement policy in force; moves volunteers, so the page confirms first.
import { CoordinatorClient, type PlacementPolicyChanged } from '../../../core/api/index.ts';

/** Outcome of a switch request, for the confirmation dialog; `code` is the refusal's error code when it had one. */
export type PolicySwitchResult = { ok: true; changed: PlacementPolicyChanged } | { ok: false; message: string; code?: string };

/**
 * POSTs the switch with the admin token; never throws: network errors, refusals (`unauthorized`,
 * unknown policy, `infeasible` — the old placement stays) and malformed answers come back as one
 * line with their code.
 */
export async function requestPolicySwitch(
  origin: string,
  policy: string,
  adminToken: string | null,
  client: CoordinatorClient = new CoordinatorClient({ origin }),
  modelId?: string,
): Promise<PolicySwitchResult> {
  try {
    return {
      ok: true,
      changed: await client.switchPlacementPolicy(policy, { ...(modelId !== undefined ? { modelId } : {}), ...(adminToken !== null ? { adminToken } : {}) }),
    };
  } catch (e) {
    const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
    return { ok: false, message: `${e instanceof Error ? e.message : String(e)}${code !== undefined ? ` [${code}]` : ''}`, ...(code !== undefined ? { code } : {}) };
  }
}
