// Messages the coordinator sends dashboards (snapshot + events) and the list of served models.
// Times are milliseconds (durations end in `Ms`, instants in `AtMs` = Unix epoch ms), sizes bytes,
// blocks 0-based with exclusive end.
import type { BlockSpan, LinearMs, TimeBreakdown } from '../swarm/index.ts';
import type { ApiErrorBody } from './errors.ts';
import type { MeasuredTimes, RouteHop } from './messages-route.ts';
import type { Backend, ModelInfo, VolunteerLoad, VolunteerState } from './messages-volunteer.ts';

// ---------------------------------------------------------------------------------------------
// Dashboards (GET `apiPaths.swarm`, or WebSocket `apiPaths.dashboardSocket`: a snapshot then events)
// ---------------------------------------------------------------------------------------------

/** A volunteer as the dashboard sees it. */
export interface VolunteerView {
  peerId: string;
  state: VolunteerState;
  /** Blocks it serves now (reported ready), or null. */
  span: BlockSpan | null;
  /** Blocks it was last asked to serve (differs from `span` while it loads). */
  assignedSpan: BlockSpan | null;
  load: VolunteerLoad;
  /** τ_j, ms. */
  decodeMsPerBlock: number;
  /** τᴵ_j, ms. */
  prefillMsPerBlock: LinearMs;
  /** M_j, bytes. */
  memoryBytes: number;
  backend: Backend;
  /** n_j the placement gave it. */
  cacheSlots: number;
  /** Slots booked by live leases (fractional when the coordinator books by declared length: k blocks × token blocks ÷ a slot's). */
  leasedSlots: number;
  joinedAtMs: number;
  lastHeartbeatAtMs: number;
  /**
   * Its key is new (no record yet: fewer than the probation count of leases released through it), so
   * placement and routing may trust it less (checks, capped share of routes).
   */
  probation: boolean;
}

/** How a route ended (or that it is still running). */
export type RouteOutcome = 'active' | 'released' | 'expired';

/** A route as the dashboard sees it: predicted vs measured. */
export interface RouteRecord {
  /** Short public hash of the lease id (the id itself is never published). */
  leaseTag: string;
  clientId: string;
  chain: RouteHop[];
  policy: string;
  promptTokens: number;
  maxNewTokens: number;
  predicted: TimeBreakdown;
  measured?: MeasuredTimes;
  /** Time the request spent in the central queue before this lease, ms. */
  queuedMs: number;
  grantedAtMs: number;
  endedAtMs?: number;
  outcome: RouteOutcome;
}

/** A placement policy's prediction for the current swarm (null when it cannot place it). */
export interface PolicyPrediction {
  policy: string;
  /** Average per-token time T / l_out with no waiting, ms. */
  perTokenMs: number | null;
  /** Why it has no prediction (e.g. the infeasibility reason). */
  error?: string;
  /** True while a slow policy (the exact MILP, in its own thread) is still computing for the current swarm. */
  pending?: boolean;
}

/** The placement in force. */
export interface PlacementView {
  policy: string;
  /** The performance model's prediction for the spans in force (after reconcile), ms per token; null before the first placement or while blocks are uncovered. */
  perTokenMs: number | null;
  computedAtMs: number;
  /** Blocks no serving or loading volunteer covers. */
  uncoveredBlocks: number[];
  /** Why the last placement failed, if it did. */
  error?: ApiErrorBody;
}

/** A dashboard asks to switch the placement policy (POST `apiPaths.placementPolicy`). */
export interface PlacementPolicyRequest {
  /** Registered placement policy name (`bprr`, `gbp-cr`, `petals`, …). */
  policy: string;
  /** Model whose swarm switches (default: the server's first model). */
  modelId?: string;
}

/** Answer to a policy switch: the placement now in force, and who had to move. */
export interface PlacementPolicyChanged {
  kind: 'placement-policy';
  placement: PlacementView;
  /** Volunteers whose span changed (they reload weights). */
  moved: string[];
}

/** Everything a dashboard shows. */
export interface SwarmState {
  atMs: number;
  model: ModelInfo;
  routingPolicy: string;
  placement: PlacementView;
  volunteers: VolunteerView[];
  /** Every configured placement policy's prediction on the current volunteers. */
  predictions: PolicyPrediction[];
  /** Most recent routes, newest last. */
  recentRoutes: RouteRecord[];
  queueLength: number;
  activeLeases: number;
  /** The coordinator's event-loop lag (absent from an older server). */
  loopLag?: LoopLag;
}

/** How late the coordinator's event loop runs: the largest stall in the last minute, and all time lost since start, ms. */
export interface LoopLag {
  recentMaxMs: number;
  lostMs: number;
}

/** Why a volunteer left the registry. */
export type LeaveReason = 'leave' | 'timeout' | 'disconnect' | 'replaced';

/** A change to the swarm state, pushed to dashboards after the snapshot. */
export type SwarmEvent =
  | { type: 'volunteer-joined'; volunteer: VolunteerView }
  | { type: 'volunteer-updated'; volunteer: VolunteerView }
  | { type: 'volunteer-left'; peerId: string; reason: LeaveReason }
  | { type: 'placement'; placement: PlacementView; moved: string[] }
  /** The coordinator's loop lag changed (a stall, or one aged out of the window). */
  | { type: 'loop-lag'; loopLag: LoopLag }
  | { type: 'predictions'; predictions: PolicyPrediction[] }
  | { type: 'route'; route: RouteRecord; queueLength: number; activeLeases: number }
  | { type: 'queue'; queueLength: number };

/** What a dashboard socket receives. */
export type DashboardMessage =
  | { type: 'snapshot'; state: SwarmState }
  | { type: 'event'; atMs: number; event: SwarmEvent };

// ---------------------------------------------------------------------------------------------
// Several models in one swarm (GET `apiPaths.servedModels`)
// ---------------------------------------------------------------------------------------------

/**
 * How well the swarm serves one model, from its coordinator's state. Messages name their model by
 * `modelId` (a register's, a route request's, a policy switch's, `?modelId=` on GET `apiPaths.swarm`
 * and the dashboard socket); without it they go to the server's first model.
 */
export interface ModelCoverage {
  model: ModelInfo;
  /** Volunteers registered for this model. */
  volunteers: number;
  /** Blocks some serving volunteer holds now (of `model.numBlocks`). */
  servedBlocks: number;
  /** Fewest volunteers assigned any one block (serving or still loading it); 0 while a block has none. */
  minReplicas: number;
  /** Volunteers assigned a block, on average over the blocks (serving or loading). */
  meanReplicas: number;
  /** Every block is held by a serving volunteer: a chat can be answered now. */
  fullyServed: boolean;
  /** Blocks no serving or loading volunteer covers. */
  uncoveredBlocks: number[];
}

/** The models one server serves (GET `apiPaths.servedModels`). */
export interface ModelsList {
  /** In the order `serve --model` named them. */
  models: ModelCoverage[];
  /** Where a message without `modelId` goes (the first model). */
  defaultModelId: string;
  /** The model a new volunteer should serve: where the swarm needs blocks most (core/policies `volunteerModelPick`). */
  suggestedModelId: string;
}
