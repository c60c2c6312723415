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
