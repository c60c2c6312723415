// The client: sessions through a chain of volunteers with failover and replay, and where routes come from.
export {
  ClientSession, LinkPool, greedy,
  type ClientModel, type Sampler, type GenerateOptions, type GeneratedToken, type GenerationResult,
  type FailoverRecord, type ClientSessionOptions,
} from './session.ts';
export type { RouteProvider, RouteAsk, RouteLease, RouteHopSpec, MeasuredRequest } from './routes.ts';
export { clientModelFromRuntime, samplerFor } from './runtime-model.ts';
export { CoordinatorRoutes, type CoordinatorRoutesOptions } from './coordinator-routes.ts';
