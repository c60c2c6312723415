// The block runtime (browser-safe part): public surface of worker/. Node-only model loading is in server/models/.
export { RuntimeError, isRuntimeError, serializeError, deserializeError, runtimeErrorCodes, type RuntimeErrorCode, type SerializedError } from './errors.ts';
export {
  createInThreadRuntime, chooseBackend, probeSpeed, fitLinearMs, generateText, measureQuantAccuracy, type QuantAccuracy,
  type BlockRuntime, type SessionRuntime, type WorkerRuntimeExtras, type RuntimeOptions, type OpenSessionRequest, type SessionInfo, type StepResult, type CacheUsage,
  type RuntimeInfo, type BackendName, type Ort, type ChosenBackend, type SpeedProbeResult, type SpeedProbeOptions,
  type GenerateResult,
} from './runtime/index.ts';
export { sampleToken, argmax, seededRng, validateSampling, defaultSampling, samplerFor, type SamplingParams, type Rng } from './sampling/index.ts';
export { generateTokens, greedy, stopTokenIdsOf, type GenerateOptions, type GeneratedToken, type GenerationOutput, type Sampler } from '../core/generation/index.ts';
export { openTokenizer, Llama2cTokenizer, HfTokenizer, parseLlama2cTokenizer, renderChatTemplate, type TextTokenizer, type StreamDecoder } from './tokenizer/index.ts';
export {
  openModelWeights, detectLayout, httpModelFiles, cachedModelFiles, weightCacheStore, syntheticWeights,
  WeightReadMeter, weightPartsToLoad, storedBytesOf,
  type ByteSource, type ModelFiles, type ModelWeights, type BlockWeights, type ModelLayout, type WeightPart, type WeightLoadProgress,
} from './weights/index.ts';
export { type OpFlavour, type BlockReader, GraphBuilder, blockIo, blocksInMemory, buildBlockRangeGraph } from './graph/index.ts';
// The page's side of the worker (Comlink proxy); the worker entry itself is worker/block-worker.ts, named by file in `new Worker(new URL(...))`.
export {
  createWorkerRuntime, startWorkerRuntime,
  type WorkerRuntime, type WorkerRuntimeOptions, type StartWorkerOptions, type WorkerInit, type WorkerModelSource,
} from './worker-proxy.ts';
