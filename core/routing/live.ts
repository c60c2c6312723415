// Small readers of the live routing state shared by the policies.
import type { ServerAssignment } from '../placement/index.ts';
import type { RoutingState, ServerLoad } from './types.ts';

/** The load of a server, defaulting to "online, all placement slots free" when the state has none. */
export function loadOf(state: RoutingState, assignment: ServerAssignment): ServerLoad {
  return state.servers.get(assignment.serverId) ?? { online: true, freeSlots: assignment.cacheSlots, sessions: [] };
}

/** True when the request's client has banned this peer at `state.nowMs`. */
export function isBanned(state: RoutingState, serverId: string): boolean {
  const until = state.bannedUntilMs?.get(serverId);
  return until !== undefined && until > state.nowMs;
}

/** Servers a route may use now: hosting blocks, online and not banned. */
export function usableAssignments(state: RoutingState, assignments: readonly ServerAssignment[]): ServerAssignment[] {
  return assignments.filter((a) => a.span !== null && loadOf(state, a).online && !isBanned(state, a.serverId));
}

/**
 * Servers PETALS' client may use now: online and hosting blocks; a banned server is kept only for
 * blocks that no unbanned online server covers ("remove temporarily banned peers, unless there are
 * no peers left" in its sequence manager), so bans never make a covered model unreachable.
 */
export function usableAssignmentsKeepingLastResort(
  state: RoutingState,
  assignments: readonly ServerAssignment[],
  numBlocks: number,
): ServerAssignment[] {
  const online = assignments.filter((a) => a.span !== null && loadOf(state, a).online);
  const unbannedCover = new Int32Array(numBlocks + 1);
  for (const a of online) {
    if (a.span === null || isBanned(state, a.serverId)) continue;
    unbannedCover[a.span.start] = (unbannedCover[a.span.start] ?? 0) + 1;
    unbannedCover[a.span.end] = (unbannedCover[a.span.end] ?? 0) - 1;
  }
  const uncovered = new Uint8Array(numBlocks);
  let running = 0;
  for (let b = 0; b < numBlocks; b++) {
    running += unbannedCover[b] ?? 0;
    uncovered[b] = running > 0 ? 0 : 1;
  }
  return online.filter((a) => {
    if (a.span === null || !isBanned(state, a.serverId)) return true;
    for (let b = a.span.start; b < a.span.end; b++) if (uncovered[b] === 1) return true;
    return false;
  });
}
