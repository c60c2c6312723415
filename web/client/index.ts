// The client: sessions through a chain of volunteers with failover and replay (stepping the one generation loop), and where routes come from.
export { LinkPool } from './link-pool.ts';
export { StepVerifier, concatRows, type EvidenceSink, type VerifyEvent, type VerifyReport, type StepVerifierOptions, type CheckedHop } from './verify.ts';
export {
  ClientSession,
  type ClientModel, type GenerationResult, type FailoverRecord, type ClientSessionOptions,
} from './session.ts';
export { greedy, type Sampler, type GenerateOptions, type GeneratedToken } from '../../core/generation/index.ts';
export { samplerFor } from '../../worker/index.ts';
export type { RouteProvider, RouteAsk, RouteLease, RouteHopSpec, MeasuredRequest } from './routes.ts';
export { clientModelFromRuntime } from './runtime-model.ts';
export { CoordinatorRoutes, type CoordinatorRoutesOptions } from './coordinator-routes.ts';
export { RttBook, measureRttMs, maxMeasuredPeers, maxMeasuredRttMs, rttSamplesPerPeer, type RttBookOptions } from './rtt.ts';
export { missingSpans, blocksInWords, statusWords, type RequestStatus } from './request-status.ts';
