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
} from './coordinator/index.ts';
export {
  loadServedModel, ModelFolderError, resolveModel, modelFolder, folderModelFiles, FileByteSource, downloadHfModel, parseHfSpec, defaultHubCacheDir, terminalProgress,
  type ServedModel, type ModelSizing, type LocalModel, type ModelFolder, type HfModelSpec, type HubOptions, type HfSnapshot, type FileProgress, type ProgressStream,
} from './models/index.ts';
export { reconcilePlacement, uncoveredBy, type PeerPlacementInput, type SpanChange, type ReconcileResult } from '../core/dispatch/index.ts';
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
export { CoordinatorKey, coordinatorKeyFile, ProbationBook, checkSignalingLogin } from './identity/index.ts';
