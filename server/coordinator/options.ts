// The coordinator's configuration, its documented defaults, and the socket-facing handles it hands out.
import type { BanList, StepRecomputer } from './verdicts.ts';
import type { VerifyTolerance } from '../../core/verify/index.ts';
import type { Logger } from 'pino';
import type { CoordinatorToVolunteerMessage, DashboardMessage } from '../../core/api/index.ts';
import type { LinearMs } from '../../core/swarm/index.ts';
import type { PlacementPolicy } from '../../core/placement/index.ts';
import type { RoutingPolicy } from '../../core/routing/index.ts';
import type { CacheReservation } from '../../core/cache/index.ts';
import type { PolicyCombo } from '../../core/policies/index.ts';
import type { ServedModel } from '../models/index.ts';
import type { FairUseLimits } from './fair-use.ts';
import type { CoordinatorKey } from '../identity/index.ts';

/** Assumptions the coordinator needs before anything is measured (all documented defaults). */
export interface NetworkDefaults {
  /** RTT assumed client → volunteer when the client reported none, ms. */
  defaultRttMs: number;
  /** Fixed cost of one decode message exchange, ms (loopback data channel echo of 100 B ≈ 0.4 ms). */
  messageOverheadMs: number;
  /** Extra cost of a prefill message, ms: perTokenMs · l_in + fixedMs. */
  prefillOverheadMs: LinearMs;
}

/** The workload placement plans for until route requests have been seen. */
export interface WorkloadDefaults {
  /** λ, requests per second. */
  arrivalRatePerS: number;
  /** Mean prompt length, tokens. */
  meanInputTokens: number;
  /** Mean generated length, tokens. */
  meanOutputTokens: number;
  /** R pinned for BPRR / GBP-CR; derived from λ by the policy when absent. */
  concurrentRequests?: number;
}

/** Everything the coordinator is configured with. Durations in ms. */
export interface CoordinatorOptions {
  model: ServedModel;
  /** Placement policy in force, and its registry name. */
  placement: { name: string; policy: PlacementPolicy };
  routing: RoutingPolicy;
  /** How a lease books a session's cache: `slot` (default, a whole slot per block) or `declared` (its prompt + max new tokens; core/policies' combo field). */
  cacheReservation?: CacheReservation;
  /**
   * Churn-aware rebalancing after a placement run (core/dispatch `rebalanceMoves`, the combo's
   * `rebalance`): a covering volunteer also moves to its proposed span when the predicted gain over
   * its expected stay outweighs the reload, within the move budget. Default false.
   */
  rebalance?: boolean;
  /** The combo these options come from (core/policies), as `GET /api/scenario` hands it to the simulator. */
  combo?: PolicyCombo;
  /** Policies whose prediction the dashboard compares (the one in force is always included). */
  predictionPolicies?: Record<string, PlacementPolicy>;
  /**
   * Names among `predictionPolicies` that may take seconds (the exact MILP in its thread): shown as
   * pending and filled in when they finish, without holding up placement; one run per policy at a time.
   */
  slowPredictionPolicies?: readonly string[];
  logger: Logger;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Lease length of a granted route; renewals extend by it. */
  leaseMs?: number;
  /** How long a queue ticket lives without being polled, and how long an answer waits for pickup. */
  ticketTtlMs?: number;
  /** Most volunteers that already hold blocks and may be moved in one placement round. */
  maxMovesPerRound?: number;
  /** Joins and leaves within this window share one placement run. */
  placementDelayMs?: number;
  /**
   * How long placement waits for a volunteer whose socket dropped without a goodbye to register
   * again before it re-places the others, ms (default half the heartbeat timeout, at most 2000; 0: no wait).
   */
  reconnectGraceMs?: number;
  maxQueueLength?: number;
  /** Caps on leases and queue entries per client and per address (coordinator/fair-use.ts). */
  fairUse?: Partial<FairUseLimits>;
  /** Routes the dashboard keeps. */
  recentRoutes?: number;
  network?: Partial<NetworkDefaults>;
  workload?: Partial<WorkloadDefaults>;
  /** Clock, Unix epoch ms (tests inject one). */
  now?: () => number;
  /**
   * The coordinator's signing key (leases, lease secrets). Default: an ephemeral one (a restart then
   * invalidates every lease); `createServer` loads it from the state dir when given one.
   */
  key?: CoordinatorKey;
  /**
   * Whether a volunteer's peer id must be the one its key is bound to (`vk-` + SHA-256 of the SPKI).
   * Default true. Tests with hand-named scripted volunteers turn it off; every registration still
   * proves its key, and a peer id held by one key is never taken over by another.
   */
  keyBoundPeerIds?: boolean;
  /** Verified results: how often clients check each volunteer, and how the coordinator judges a mismatch. */
  verify?: VerifyOptions;
  /** The banned keys (default: a list of this coordinator's own, in memory); `createServer` shares one, kept in the state dir, among its models. */
  bans?: BanList;
}

/** Verified results on the coordinator (docs/security.md, "Verified results"). */
export interface VerifyOptions {
  /** Share of decode steps clients re-run on a second volunteer for a volunteer with a record (default core/verify defaultVerifyShare, 0.05). */
  share?: number;
  /** Share for a volunteer on probation, i.e. without a successful session report yet (default probationVerifyShare, 0.25). */
  probationShare?: number;
  /** Recomputes a disputed step (createServer: the in-process runtime on the served model); absent: nothing is ever banned. */
  recompute?: StepRecomputer;
  tolerance?: VerifyTolerance;
}

/** How the coordinator talks to one volunteer socket. */
export interface VolunteerLink {
  send(message: CoordinatorToVolunteerMessage): void;
  close(code: number, reason: string): void;
}

/** Handle of one volunteer socket, given to the transport. */
export interface VolunteerConnection {
  /** The challenge nonce this socket got (a socket moved to another model's coordinator keeps it). */
  readonly nonce: string;
  /** Feed one message (already JSON-parsed, not yet validated). */
  receive(raw: unknown): void;
  /** The socket closed. */
  closed(): void;
}

/** A listener of swarm events (dashboards). */
export type SwarmListener = (message: DashboardMessage) => void;

/** The network defaults with every field filled. */
export function networkDefaults(o: Partial<NetworkDefaults> | undefined): NetworkDefaults {
  return {
    defaultRttMs: o?.defaultRttMs ?? 20,
    messageOverheadMs: o?.messageOverheadMs ?? 1,
    prefillOverheadMs: o?.prefillOverheadMs ?? { perTokenMs: 0.01, fixedMs: 2 },
  };
}

/** The workload defaults with every field filled (R only when pinned). */
export function workloadDefaults(o: Partial<WorkloadDefaults> | undefined): WorkloadDefaults {
  const w: WorkloadDefaults = {
    arrivalRatePerS: o?.arrivalRatePerS ?? 0.1,
    meanInputTokens: o?.meanInputTokens ?? 32,
    meanOutputTokens: o?.meanOutputTokens ?? 64,
  };
  if (o?.concurrentRequests !== undefined) w.concurrentRequests = o.concurrentRequests;
  return w;
}
