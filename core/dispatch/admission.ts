// Cache-slot admission: what the simulator and the live coordinator do with a routing decision under the policy's mechanism.
import type { BlockSpan, Chain, TimeBreakdown } from '../swarm/index.ts';
import type { AdmissionMechanism, RoutingDecision } from '../routing/index.ts';
import { reserveTokensFor, tokenBlocksFor, type CacheReservation } from '../cache/index.ts';

/**
 * Cache slots one hop of a session holds at its server: one single-block slot per block of the
 * hop's span. The one place slots are counted, so that a finer accounting (KV blocks of 16 tokens)
 * can replace it.
 */
export function hopSlots(span: BlockSpan): number {
  return span.end - span.start;
}

// How much cache a session is reserved: core/cache's, re-exported where admission reads it.
export type { CacheReservation } from '../cache/index.ts';

/**
 * Slots (possibly fractional) one hop of a session holds under `reservation`: the span's blocks ×
 * the token blocks core/cache's `reserveTokensFor` reserves ÷ the token blocks of a whole slot, so
 * hopSlots(span) for `slot` and for a declaration of a slot or longer; the same count as a volunteer
 * runtime's KvCacheBudget. `declaredTokens` (prompt + max new tokens) and `slotTokens` in tokens.
 */
export function sessionHopSlots(span: BlockSpan, reservation: CacheReservation, declaredTokens: number, slotTokens: number): number {
  return (hopSlots(span) * tokenBlocksFor(reserveTokensFor(declaredTokens, slotTokens, reservation))) / tokenBlocksFor(slotTokens);
}

/** What admission may read and what the caller can do. */
export interface AdmissionContext {
  /** Single-block slots free at a server now (not held by a session or booking). */
  freeSlots: (serverId: string) => number;
  /**
   * Whether the caller can book slots now and start the request after a wait (the simulator can);
   * a live coordinator cannot hold a client, so a WS-RR wait becomes a place in the central queue.
   */
  canBook: boolean;
  /**
   * Whether a fail-and-retry server's refusal is decided here: the simulator plays the volunteer;
   * live, the volunteer refuses the session itself and the client retries.
   */
  playsVolunteer: boolean;
  /** Slots a hop of this session needs (default `hopSlots`: a whole slot per block; see `sessionHopSlots`). */
  hopSlots?: (span: BlockSpan) => number;
}

/** The outcome of admission: a discriminated union on `kind`. */
export type Admission =
  | {
      /** Start on `chain` after `waitMs` (0: now), holding its slots from now on. */
      kind: 'start';
      chain: Chain;
      waitMs: number;
      predicted: TimeBreakdown;
      /** Index in the routing policy's chain list (JFFC's per-chain session count). */
      chainIndex?: number;
    }
  | {
      /** PETALS: `serverId` has not the slots and refuses at once; the client bans it and backs off. */
      kind: 'refused';
      serverId: string;
    }
  | {
      /** Wait in the central FIFO queue until a session ends. */
      kind: 'queue';
    }
  | {
      /** No chain of online servers covers the blocks now. */
      kind: 'no-route';
      reason: string;
    };

/** The first hop of `chain` whose server has fewer free slots than the hop needs, if any. */
export function refusingHop(
  chain: Chain,
  freeSlots: (serverId: string) => number,
  slotsOf: (span: BlockSpan) => number = hopSlots,
): Chain['hops'][number] | undefined {
  return chain.hops.find((h) => freeSlots(h.serverId) < slotsOf(h.span));
}

/**
 * Applies the routing policy's admission mechanism to its decision:
 * - fail-and-retry (PETALS): a hop without the slots refuses (when the caller plays the volunteer);
 * - wait-for-slots (WS-RR): book now and start after the expected wait, or queue when the caller
 *   cannot book;
 * - central-queue (JFFC): start when every hop has its slots free, else queue.
 */
export function admit(decision: RoutingDecision, mechanism: AdmissionMechanism, ctx: AdmissionContext): Admission {
  switch (decision.kind) {
    case 'route': {
      const start = (waitMs: number): Admission => {
        const out: Admission = { kind: 'start', chain: decision.chain, waitMs, predicted: decision.predicted };
        if (decision.chainIndex !== undefined) out.chainIndex = decision.chainIndex;
        return out;
      };
      switch (mechanism.kind) {
        case 'fail-and-retry': {
          const refusing = ctx.playsVolunteer ? refusingHop(decision.chain, ctx.freeSlots, ctx.hopSlots) : undefined;
          return refusing === undefined ? start(0) : { kind: 'refused', serverId: refusing.serverId };
        }
        case 'wait-for-slots':
          if (decision.expectedWaitMs > 0 && !ctx.canBook) return { kind: 'queue' };
          return start(decision.expectedWaitMs);
        case 'central-queue':
          return refusingHop(decision.chain, ctx.freeSlots, ctx.hopSlots) === undefined ? start(0) : { kind: 'queue' };
        default: {
          const never: never = mechanism;
          return never;
        }
      }
    }
    case 'queue':
      return { kind: 'queue' };
    case 'no-route':
      return { kind: 'no-route', reason: decision.reason };
    default: {
      const never: never = decision;
      return never;
    }
  }
}
