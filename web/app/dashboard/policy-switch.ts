// Asks the coordinator to change the placement policy in force (moves volunteers, so the page confirms first).
import { apiPaths, parsePlacementPolicyChanged, type PlacementPolicyChanged, type PlacementPolicyRequest } from '../../../core/api/index.ts';

/** Outcome of a switch request, for the confirmation dialog. */
export type PolicySwitchResult = { ok: true; changed: PlacementPolicyChanged } | { ok: false; message: string };

/**
 * POSTs the switch (`apiPaths.placementPolicy`); never throws: network errors, refusals (unknown
 * policy, `infeasible` — the old placement stays) and malformed answers come back as one line.
 */
export async function requestPolicySwitch(origin: string, policy: string): Promise<PolicySwitchResult> {
  const body: PlacementPolicyRequest = { policy };
  let raw: unknown;
  try {
    const res = await fetch(new URL(apiPaths.placementPolicy, origin), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    raw = await res.json();
  } catch (e) {
    return { ok: false, message: `the coordinator did not answer (${e instanceof Error ? e.message : String(e)})` };
  }
  const parsed = parsePlacementPolicyChanged(raw);
  return parsed.ok ? { ok: true, changed: parsed.value } : { ok: false, message: `${parsed.error.message} [${parsed.error.code}]` };
}
