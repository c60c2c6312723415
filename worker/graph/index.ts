// ONNX graph builders of the block runtime: public surface of worker/graph.
export { GraphBuilder, ElemType, type ElemTypeName, type Dim, type ExternalTensor, type BuiltModel } from './onnx-builder.ts';
export {
  buildBlockRangeGraph,
  blocksInMemory,
  type BlockReader,
  buildEmbeddingGraph,
  buildHeadGraph,
  clientIo,
  type GraphOptions,
  type BuiltGraph,
} from './blocks.ts';
export { computeType } from './weight-writer.ts';
export type { OpFlavour } from './graph-ops.ts';
export { blockIo, usesGqa, rotaryTables, positionInputs, type PositionInput } from './block-io.ts';
export { quantizeQ4, dequantizeQ4, q4BlockSize, type Q4Weights, quantizeQ8, dequantizeQ8, type Q8Weights } from './quantize.ts';
