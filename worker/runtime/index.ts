// The block runtime contract and its in-thread implementation: public surface of worker/runtime.
export type {
  BlockRuntime, SessionRuntime, WorkerRuntimeExtras, RuntimeOptions, OpenSessionRequest, SessionInfo, StepResult, CacheUsage, RuntimeInfo, BackendName,
} from './types.ts';
export { createInThreadRuntime } from './in-thread.ts';
export { chooseBackend, type Ort, type ChosenBackend } from './backend.ts';
export { probeSpeed, fitLinearMs, type SpeedProbeResult, type SpeedProbeOptions } from './speed-probe.ts';
export { generateText, type GenerateOptions, type GenerateResult } from './generate.ts';
export { measureQuantAccuracy, type QuantAccuracy } from './quant-accuracy.ts';
