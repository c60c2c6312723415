// Asks the coordinator to change the placement policy in force (moves volunteers, so the page confirms first).
import { apiErrorFromWire, parseApiErrorBody, type PlacementView } from '../../../core/api/index.ts';

/**
 * Proposed endpoint (not yet in core/api's `apiPaths`): POST `{ "policy": "<name>" }` → 200 with
 * the new PlacementView, or an ApiErrorBody (400 `bad-request` for an unknown policy, 409
 * `infeasible` when it cannot place the current swarm). The change is also pushed to dashboards
 * as a `placement` event.
 */
export const placementPolicyPath = '/api/placement/policy';

/** Outcome of a switch request, for the confirmation dialog. */
export type PolicySwitchResult = { ok: true; placement: PlacementView | null } | { ok: false; message: string };

/** POSTs the switch; never throws (network and server errors come back as a message). */
export async function requestPolicySwitch(origin: string, policy: string): Promise<PolicySwitchResult> {
  let res: Response;
  try {
    res = await fetch(new URL(placementPolicyPath, origin), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ policy }),
    });
  } catch (e) {
    return { ok: false, message: `the coordinator did not answer (${e instanceof Error ? e.message : String(e)})` };
  }
  const text = await res.text();
  if (res.ok) {
    try {
      const body = JSON.parse(text) as { placement?: PlacementView } | PlacementView;
      return { ok: true, placement: 'placement' in body && body.placement !== undefined ? body.placement : null };
    } catch {
      return { ok: true, placement: null };
    }
  }
  if (res.status === 404 || res.status === 405) {
    return { ok: false, message: 'this coordinator cannot switch policies at run time (no placement endpoint); restart it with --placement <policy>' };
  }
  try {
    const body = parseApiErrorBody(JSON.parse(text));
    if (body.ok) return { ok: false, message: apiErrorFromWire(body.value).message };
  } catch {
    // fall through to the status line
  }
  return { ok: false, message: `the coordinator refused (HTTP ${res.status})` };
}
