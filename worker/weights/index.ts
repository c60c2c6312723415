// Weight loading of the block runtime: public surface of worker/weights (browser-safe; Node files are in node.ts).
export type { ByteSource, ModelFiles, BlockWeights, ModelWeights, WeightPart } from './types.ts';
export { SafetensorsFile, type TensorEntry, type SafetensorsDtype } from './safetensors.ts';
export { openHfCheckpoint } from './hf-checkpoint.ts';
export { openLlama2cCheckpoint } from './llama2c.ts';
export { openModelWeights, detectLayout, isLlama2cTokenizerName, type ModelLayout } from './open.ts';
export { HttpByteSource, httpModelFiles } from './http-files.ts';
export { cachedByteSource, cachedModelFiles, weightCacheStore } from './idb-cache.ts';
export { halfToFloat, floatToHalf, toHalfArray, fromHalfArray, fromBf16Array } from './float16.ts';
export { syntheticWeights } from './synthetic.ts';
export { releaseBuffers } from './release.ts';
export { WeightReadMeter, weightPartsToLoad, storedBytesOf, type WeightLoadProgress } from './progress.ts';
