// Model shapes and memory sizes: public surface of core/model.
export {
  ModelShapeError,
  type ModelShape,
  type RopeStyle,
  type RopeScaling,
  type BlockAttention,
  type MlpActivation,
  type WeightPrecision,
  type CachePrecision,
  shapeFromLlama2cHeader,
  llama2cHeaderBytes,
  validateShape,
  blockParams,
  blockAttentionOf,
  bytesPerParam,
  blockBytes,
  cacheBytesPerBlock,
  hiddenStateBytesPerToken,
} from './shape.ts';
export { shapeFromHfConfig, supportedFamilies } from './hf-config.ts';
export { runtimeMemoryCosts, placementMemoryBytes, registeredMemoryBytes, budgetBytesFor, type RuntimeMemoryCost, type RuntimeMemoryBackend, type RuntimeMemoryKind } from './runtime-memory.ts';
export { ropeFrequencies, ropeDependsOnStep, type RopeFrequencies } from './rope.ts';
