// Which decode steps a client re-runs on a second volunteer: each with the share the coordinator gave that hop, drawn by the client.

/** Share of decode steps checked on a volunteer with a record (coordinator option `verifyShare`). */
export const defaultVerifyShare = 0.05;
/** Share checked on a volunteer on probation (a new key): checked more often until it has a record. */
export const probationVerifyShare = 0.25;

/**
 * Whether to check this step: true with probability `share`, drawn from `random` (uniform in
 * [0, 1)) on the client, so the volunteer cannot know which of its steps are compared.
 */
export function shouldCheck(share: number, random: () => number): boolean {
  if (!(share > 0)) return false;
  return share >= 1 || random() < share;
}

/**
 * Probability that a volunteer wrong on a share `wrongShare` of its decode steps (independently) is
 * caught within `steps` steps when a share `checkShare` of them is checked: 1 − (1 − p·q)^k.
 */
export function catchProbability(checkShare: number, wrongShare: number, steps: number): number {
  const p = Math.min(1, Math.max(0, checkShare)) * Math.min(1, Math.max(0, wrongShare));
  return 1 - (1 - p) ** Math.max(0, steps);
}
