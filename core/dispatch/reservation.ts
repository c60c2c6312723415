// Reservation by declared length for the simulator and the coordinator alike: what one session's hops hold, and loads counted in its units.
import type { ServerLoad } from '../routing/index.ts';
import type { BlockSpan } from '../swarm/index.ts';
import { sessionHopSlots, type CacheReservation } from './admission.ts';

/** One request's view of the cache under a reservation: what its hops hold and the loads its routing policy reads. */
export interface SessionReservation {
  /** Slots (possibly fractional) a hop over `span` holds for this session (admission's `hopSlots`). */
  hopSlots: (span: BlockSpan) => number;
  /** Slots one block of this session holds (1 for a whole slot). */
  perBlockSlots: number;
}

/**
 * The reservation of a session that declared `declaredTokens` (prompt + max new tokens) on caches
 * whose slots hold `slotTokens` tokens, under `reservation` (core/dispatch sessionHopSlots).
 */
export function sessionReservation(reservation: CacheReservation, declaredTokens: number, slotTokens: number): SessionReservation {
  return {
    hopSlots: (span) => sessionHopSlots(span, reservation, declaredTokens, slotTokens),
    perBlockSlots: sessionHopSlots({ start: 0, end: 1 }, reservation, declaredTokens, slotTokens),
  };
}

/**
 * `loads` counted in units of one session's per-block reservation (`perBlockSlots` slots): a
 * routing policy that asks one slot per block (every policy does) then asks exactly what admission
 * will reserve. Identity for a whole slot.
 */
export function loadsInSessionUnits(loads: ReadonlyMap<string, ServerLoad>, perBlockSlots: number): Map<string, ServerLoad> {
  const view = new Map<string, ServerLoad>();
  for (const [id, l] of loads) {
    if (perBlockSlots === 1 || !(perBlockSlots > 0)) {
      view.set(id, l);
      continue;
    }
    view.set(id, {
      ...l,
      freeSlots: snapWhole(l.freeSlots / perBlockSlots),
      sessions: l.sessions.map((x) => ({ slots: x.slots / perBlockSlots, expectedEndMs: x.expectedEndMs })),
    });
  }
  return view;
}

/** `x` rounded to the nearest integer when within 1e-9 of it (fractional slot counts summed in floating point). */
export function snapWhole(x: number): number {
  const whole = Math.round(x);
  return Math.abs(x - whole) < 1e-9 ? whole : x;
}
