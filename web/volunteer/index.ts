// The volunteer: serves sessions on its blocks, registers with the coordinator, reports load.
export { SessionHost, type BlockExecutor, type HostedBlocks, type HostStats } from './session-host.ts';
export { executorFromRuntime, peerCodeForRuntimeCode } from './runtime-port.ts';
