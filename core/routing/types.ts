// Contract of every routing policy: a pure function of a live snapshot (swarm, placement, load) to a decision.
import type { Chain, SwarmSnapshot, TimeBreakdown } from '../swarm/index.ts';
import type { ActiveSession } from '../perf/index.ts';
import type { PlacementResult } from '../placement/index.ts';

/** What the router knows of one server right now. */
export interface ServerLoad {
  /** False while the volunteer is away (churn); routes never use it. */
  online: boolean;
  /** Single-block cache slots not held by any session or booking (n_j minus what is held). */
  freeSlots: number;
  /**
   * Sessions and bookings holding slots here, with their expected completion times (ms on the
   * snapshot's clock). A booking made for a request that is still waiting counts from the moment
   * it was made (WS-RR holds slots until the expected completion).
   */
  sessions: readonly ActiveSession[];
}

/** The live part of a routing snapshot; the simulator and the coordinator fill it. */
export interface RoutingState {
  /** Current time, ms. */
  nowMs: number;
  /** Load per server id; a server absent here counts as online with all its placement slots free. */
  servers: ReadonlyMap<string, ServerLoad>;
  /** Peers this request's client has banned, with the time (ms) the ban ends (PETALS' client blacklist). */
  bannedUntilMs?: ReadonlyMap<string, number>;
  /** Sessions running on each chain of the chain list the policy dispatches on (JFFC), by chain index. */
  chainSessions?: readonly number[];
}

/** Everything a routing policy may look at. Pure data; policies never mutate it. */
export interface RoutingSnapshot {
  swarm: SwarmSnapshot;
  placement: PlacementResult;
  state: RoutingState;
}

/**
 * One request to route, as a routing policy sees it (the coordinator builds it from core/api's
 * `RouteRequest`, the message a client POSTs: one name per thing).
 */
export interface RoutingRequest {
  /** Where the request comes from (a ClientSpec id); RTTs are looked up for it. */
  clientId: string;
  /** l_in: tokens the first pass carries (prompt, or prompt + tokens so far when replaying after a failure). */
  inputTokens: number;
  /** l_out: tokens still to generate (≥ 1). */
  outputTokens: number;
}

/** A routing decision: a discriminated union on `kind`. */
export type RoutingDecision =
  | {
      kind: 'route';
      /** Hops in block order covering [0, L). */
      chain: Chain;
      /** How long the request is expected to wait for slots before it starts, ms (0 for policies without waits). */
      expectedWaitMs: number;
      /** What the performance model predicts for this request on this chain, ms. */
      predicted: TimeBreakdown;
      /** Index of the chain in the policy's chain list (JFFC), so the caller can count sessions per chain. */
      chainIndex?: number;
    }
  | {
      /** Every chain is full: wait in the central queue (JFFC). */
      kind: 'queue';
      reason: string;
    }
  | {
      /** No chain of online, unbanned servers covers every block right now. */
      kind: 'no-route';
      reason: string;
    };

/**
 * How a server's cache admission is enforced for a policy — the caller (simulator, coordinator)
 * applies it; the policy only decides routes.
 * - `fail-and-retry` (PETALS): a server without the slots refuses at once; the client waits
 *   `retryDelayMs(attempt)` and bans that peer for `banMs(failuresOfThatPeer)`.
 * - `wait-for-slots` (WS-RR): the route comes with an expected wait; the caller books the slots
 *   on every hop from now until the expected completion and starts the request after the wait.
 * - `central-queue` (JFFC): a 'queue' decision puts the request in a FIFO queue; when a session
 *   ends, the caller routes the queue head again (the freed chain is then the fastest free one).
 */
export type AdmissionMechanism =
  | { kind: 'fail-and-retry'; retryDelayMs: (attempt: number) => number; banMs: (failures: number) => number }
  | { kind: 'wait-for-slots' }
  | { kind: 'central-queue' };

/** A routing policy: `route` is a pure function of its arguments. */
export interface RoutingPolicy {
  /** Registry name (`petals`, `ws-rr`, `jffc`). */
  readonly name: string;
  readonly admission: AdmissionMechanism;
  route(snapshot: RoutingSnapshot, request: RoutingRequest): RoutingDecision;
}

/** Knobs a routing policy may take; each policy documents the ones it reads. */
export interface RoutingOptions {
  /** PETALS: the 10 s penalty when a server's free cache looks too small (default true). */
  allocationPenalty?: boolean;
  /**
   * JFFC: when a chain counts as free. `sessions` (default, the paper's): fewer than c_k sessions
   * run on it. `cache`: every hop has the cache this session needs now (the state's free slots,
   * which under admission by declared length are counted in this session's reservation, i.e. in
   * 16-token blocks), so a short session leaves room another can use (`followup-declared`).
   */
  jffcFreeBy?: 'sessions' | 'cache';
  /**
   * Bouquet: also consider the request's own chain — the fastest for its client's RTTs over every
   * usable span with the cache it needs — and take it when it beats the best listed chain by 5 %.
   */
  ownChains?: boolean;
}

/** Builds a routing policy; registered in `routingPolicies`. */
export type RoutingPolicyFactory = (options?: RoutingOptions) => RoutingPolicy;
