// Signaling + coordinator server: public surface of server/.
export { createServer, defaultWebDir, type ServerOptions, type BouquetServer, type ModelSource, type AuthOptions, type DashboardSocketLimits } from './server.ts';
export { serverLogger, prettyLogLine, type LogStream } from './log.ts';
export { SwarmModels, type ModelSwarm } from './swarm-models.ts';
export { swarmScenario, scenarioHandler, maxScenarioRequests, maxScenarioClients, type ScenarioInputs } from './scenario-export.ts';
export {
  Coordinator,
  defaultFairUseLimits,
  type FairUseLimits,
  type CoordinatorOptions,
  type NetworkDefaults,
  type WorkloadDefaults,
  type VolunteerLink,
  type VolunteerConnection,
  type SwarmListener,
  type LoopLagReport,
  maxSlotsPerVolunteer,
  maxWorkloadShareRequests,
  maxRttClients,
  VolunteerRecords,
  OverheadCalibration, calibrationReport, computeRatio, decodeMsPerToken, calibrationWindow, maxCalibrationReportsPerClient, maxCalibratedClients, maxComputeRatio,
  type CalibrationReport, type ReportedHop,
  networkDefaults,
  clientInfluence,
  maxReportingClients,
  probationLeases,
  BanList, judgeEvidence, maxBannedKeys, inProcessRecomputer, BanStore, bansFile, maxBanFileBytes, maxBanReasonChars, parseBanRecord, type BanRecord,
  type StepRecomputer, type JudgeDeps, type VerifyOptions,
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
  fastPlacementDeadlineMs,
} from './policies.ts';
export { PlacementThread, PlacementThreadError, type PlacementJob, type PlacementJobReply } from './placement/thread.ts';
export {
  Authorizer, authActions, adminTokenScheme, apiKeyScheme, loadApiKeys, apiKeysFile, bearerToken, defaultStateDir, loadOrCreateAdminToken, adminTokenFile, addressKey,
  defaultRouteRateLimits, RateLimiter, RouteRateLimiter,
  type AuthAction, type Credentials, type CredentialScheme, type AuthRequest, type RateLimit, type RouteRateLimits,
} from './auth/index.ts';
export {
  parseIceConfig, iceServersFor, turnCredential, defaultTurnCredentialTtlMs, checkTlsCredentials, loadTlsCredentials, selfSignedTlsCredentials,
  CertificateError, FailureLog,
  type IceConfig, type TurnCredential, type TlsCredentials, type CertificateProblem,
} from './reach/index.ts';
export { CoordinatorKey, coordinatorKeyFile, checkSignalingLogin } from './identity/index.ts';
export { openAiRouter, type OpenAiOptions, type SwarmClientFactory, type SwarmTextClient, type SwarmTextRequest } from './openai/index.ts';
