// Coordinator API (volunteers, clients, dashboards) and its one client: public surface of core/api.
export {
  type ApiErrorCode,
  type ApiErrorBody,
  apiErrorCodes,
  CoordinatorApiError,
  apiErrorFromWire,
  apiErrorBody,
  httpStatusForCode,
} from './errors.ts';
export type {
  Backend,
  VolunteerState,
  VolunteerLoad,
  RegisterMessage,
  HeartbeatMessage,
  ReadyMessage,
  LeaveMessage,
  VolunteerMessage,
  ModelInfo,
  ChallengeMessage,
  RegisteredMessage,
  AssignmentReason,
  AssignmentMessage,
  ErrorMessage,
  CoordinatorToVolunteerMessage,
  RouteRequest,
  RouteHop,
  RouteGranted,
  RouteQueued,
  RouteRefused,
  RouteResponse,
  MeasuredTimes,
  RouteReleaseRequest,
  RouteRenewRequest,
  RouteReleased,
  RouteRenewed,
  VolunteerView,
  RouteOutcome,
  RouteRecord,
  PolicyPrediction,
  PlacementView,
  PlacementPolicyRequest,
  PlacementPolicyChanged,
  SwarmState,
  LoopLag,
  LeaveReason,
  SwarmEvent,
  DashboardMessage,
  ModelCoverage,
  ModelsList,
} from './messages.ts';
export {
  type Parsed,
  apiBounds,
  maxIdLength,
  maxPublicKeyLength,
  maxListLength,
  maxRttEntries,
  parseJsonWith,
  parseVolunteerMessage,
  parseCoordinatorToVolunteerMessage,
  parseRouteRequest,
  parseRouteResponse,
  parseRouteReleaseRequest,
  parseRouteRenewRequest,
  parseRouteReleased,
  parseRouteRenewed,
  parseApiErrorBody,
  parseSwarmState,
  parseDashboardMessage,
  parsePlacementPolicyRequest,
  parsePlacementPolicyChanged,
  parseModelsList,
} from './validate.ts';
export { apiPaths, withModelId, routeTicketPath, routeReleasePath, routeRenewPath, modelFilePath, maxTicketWaitMs } from './paths.ts';
export {
  CoordinatorClient, CoordinatorSocket, readAnswer, servedModelOf, coordinatorUrl,
  type CoordinatorClientOptions, type CoordinatorSocketHandlers, type AbortSignalLike, type FetchLike, type ResponseLike, type WebSocketLike, type CreateSocket, type ServedModel,
} from './client.ts';
export { encodeJson, finiteJsonReplacer } from './wire-json.ts';
export { modelCoverage } from './coverage.ts';
export {
  parseIceServersAnswer, parseFailureReport, parseFailuresAnswer, failureRecord, isIceUrl, isTurnUrl, maxIceServers, maxIceUrlLength, failureStages, maxFailureMessageLength,
  type IceServer, type IceServersAnswer, type FailureStage, type FailureReport, type FailureRecord, type FailuresAnswer,
} from './reach.ts';
export {
  keyBoundPeerIdPrefix, peerIdDigestBytes, maxLeaseTokenLength, maxReportedSessions, peerIdFromDigest, isKeyBoundPeerId,
  registerChallengeText, signalingText, leaseSigningText, base64url, fromBase64url, leasePayload, parseLeaseToken,
  type LeaseGrant, type LeaseTokenParts,
} from './identity.ts';
export { Backoff, backoffDelayMs, type BackoffPolicy } from './backoff.ts';
// The version a volunteer's register carries: the one constant of core/protocol.
export { protocolVersion } from '../protocol/index.ts';
