// Signaling + coordinator server: public surface of server/.
export { createServer, defaultWebDir, type ServerOptions, type BouquetServer } from './server.ts';
export {
  Coordinator,
  type CoordinatorOptions,
  type NetworkDefaults,
  type WorkloadDefaults,
  type VolunteerLink,
  type VolunteerConnection,
  type SwarmListener,
} from './coordinator.ts';
export { loadServedModel, ModelFolderError, type ServedModel, type ModelSizing } from './models/index.ts';
export { reconcilePlacement, uncoveredBy, type PeerPlacementInput, type SpanChange, type ReconcileResult } from './reconcile.ts';
export {
  placementPolicy,
  routingPolicy,
  predictionPolicies,
  placementPolicyNames,
  routingPolicyNames,
  threadedPlacementPolicies,
  milpPredictionTimeLimitMs,
  placementThreadDeadlineMs,
} from './policies.ts';
export { PlacementThread, PlacementThreadError, type PlacementJob, type PlacementJobReply } from './placement/thread.ts';
