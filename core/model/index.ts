// Model shapes and memory sizes: public surface of core/model.
export {
  ModelShapeError,
  type ModelShape,
  type RopeStyle,
  type WeightPrecision,
  type CachePrecision,
  shapeFromHfConfig,
  shapeFromLlama2cHeader,
  llama2cHeaderBytes,
  validateShape,
  blockParams,
  bytesPerParam,
  blockBytes,
  cacheBytesPerBlock,
  hiddenStateBytesPerToken,
} from './shape.ts';
