// Bookings: the slots sessions and leases hold at each server, and the live load a routing policy reads from them.
import type { ServerAssignment } from '../placement/index.ts';
import type { ActiveSession } from '../perf/index.ts';
import type { ServerLoad } from '../routing/index.ts';
import type { BlockSpan } from '../swarm/index.ts';
import { hopSlots } from './admission.ts';
import { snapWhole } from './reservation.ts';

/** A session (or a lease, or a WS-RR booking) holding slots on every hop of its chain until `expectedEndMs`. */
export interface Booking {
  /** `slots`: what the hop holds (default hopSlots(span), a whole slot per block; less under reservation by declared length). */
  hops: readonly { serverId: string; span: BlockSpan; slots?: number }[];
  /** Expected completion, ms on the caller's clock. */
  expectedEndMs: number;
}

/**
 * Each hosting server's load: its slots (the assignment's) minus what the bookings hold, and the
 * bookings with their expected ends (WS-RR's expected wait reads them). `offline` servers are
 * marked so that no route uses them.
 */
export function loadsFromBookings(
  assignments: readonly ServerAssignment[],
  bookings: Iterable<Booking>,
  offline: ReadonlySet<string> = new Set(),
): Map<string, ServerLoad> {
  const held = new Map<string, ActiveSession[]>();
  for (const b of bookings) {
    for (const h of b.hops) {
      const list = held.get(h.serverId) ?? [];
      list.push({ slots: h.slots ?? hopSlots(h.span), expectedEndMs: b.expectedEndMs });
      held.set(h.serverId, list);
    }
  }
  const loads = new Map<string, ServerLoad>();
  for (const a of assignments) {
    const sessions = held.get(a.serverId) ?? [];
    const used = sessions.reduce((s, x) => s + x.slots, 0);
    loads.set(a.serverId, { online: !offline.has(a.serverId), freeSlots: Math.max(0, snapWhole(a.cacheSlots - used)), sessions });
  }
  return loads;
}
