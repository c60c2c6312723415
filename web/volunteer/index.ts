// The volunteer: serves sessions on its blocks, registers with the coordinator, reports load.
export { SessionHost, type HostedBlocks, type HostStats, type HostLimits } from './session-host.ts';
export { VolunteerIdentity, indexedDbKeyStore, tabKeyStore, memoryKeyStore, type KeyStore } from './identity.ts';
export { LeaseChecker, type LeaseCheckOptions } from './lease-check.ts';
export {
  VolunteerAgent, sanitizeSpeed, type VolunteerAgentOptions, type RuntimeStarter, type VolunteerSnapshot, type VolunteerStatus,
  type SpeedMeasurement, type LoadPhase, type StartTicker,
} from './agent.ts';
export { workerTicker } from './worker-ticker.ts';
export {
  WebSocketCoordinator, type VolunteerCoordinator, type CoordinatorHandlers, type WebSocketLike, type WebSocketCoordinatorOptions,
} from './coordinator-client.ts';
export { inThreadVolunteerRuntime, type InThreadVolunteerOptions } from './in-thread-runtime.ts';
export { workerVolunteerRuntime, type WorkerVolunteerOptions, type WorkerVolunteerRuntime } from './worker-runtime.ts';
