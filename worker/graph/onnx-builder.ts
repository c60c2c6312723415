// A small typed helper over onnx-proto: declare inputs, initializers and nodes, get ModelProto bytes.
import { BouquetError } from '../../core/errors/index.ts';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Element types the runtime's graphs use (values of onnx.TensorProto.DataType). */
export const ElemType = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10 } as const;
export type ElemTypeName = keyof typeof ElemType;

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

type AttrValue = number | number[] | string | { float: number };

/** One initializer held outside the protobuf: the name the graph refers to, and its raw bytes. */
export interface ExternalTensor {
  path: string;
  data: Uint8Array;
}

/** A graph protobuf and the tensors it keeps outside itself (onnxruntime's `externalData` session option). */
export interface BuiltModel {
  bytes: Uint8Array;
  externalData: ExternalTensor[];
}

/** Collects a graph; node output names are generated unless given. */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private counter = 0;
  /** Bytes of all initializers added so far. */
  initializerBytes = 0;

  constructor(readonly name: string) {}

  input(name: string, type: ElemTypeName, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemTypeName, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a constant tensor; `data` holds the raw little-endian values of `type`. */
  init(name: string, type: ElemTypeName, dims: number[], data: Float32Array | Uint16Array | Uint8Array | Int8Array | Int32Array | BigInt64Array): string {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: ElemType[type], rawData: raw });
    this.initializerBytes += raw.byteLength;
    return name;
  }

  /** A 1-D int64 constant (shapes, axes). */
  ints(name: string, values: number[]): string {
    return this.init(name, 'int64', [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** Adds a node; returns its output names (`outputs` gives the count or the names). */
  node(opType: string, inputs: string[], outputs: number | string[] = 1, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const outNames = typeof outputs === 'number'
      ? Array.from({ length: outputs }, () => `${opType.toLowerCase()}_${this.counter++}`)
      : outputs;
    this.nodes.push({
      opType,
      domain,
      name: `n${this.counter++}_${opType}`,
      input: inputs,
      output: outNames,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outNames;
  }

  /** Like node() for the common one-output case. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    const [out] = this.node(opType, inputs, 1, attrs, domain);
    if (out === undefined) throw new BouquetError('internal', 'unreachable: node without output');
    return out;
  }

  /** Serializes to ONNX ModelProto bytes (opset 17 + com.microsoft 1), every initializer inside. */
  toBytes(): Uint8Array {
    return this.encode(this.initializers);
  }

  /**
   * Serializes with every initializer of at least `minExternalBytes` as external data: the graph
   * protobuf holds only names and shapes, and onnxruntime reads each tensor from its own buffer
   * (`externalData`, the weights' own arrays, not copied). So loading holds the weights once in JS
   * and once in the runtime, instead of also in the protobuf and in its parsed copy.
   */
  toModel(minExternalBytes = 1024): BuiltModel {
    const externalData: ExternalTensor[] = [];
    const initializers = this.initializers.map((t): onnxProto.onnx.ITensorProto => {
      const raw = t.rawData;
      if (raw === null || raw === undefined || raw.byteLength < minExternalBytes) return t;
      const path = `t${externalData.length}.bin`;
      externalData.push({ path, data: raw });
      return {
        name: t.name,
        dims: t.dims,
        dataType: t.dataType,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [{ key: 'location', value: path }, { key: 'offset', value: '0' }, { key: 'length', value: String(raw.byteLength) }],
      };
    });
    return { bytes: this.encode(initializers), externalData };
  }

  private encode(initializers: onnxProto.onnx.ITensorProto[]): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'bouquet',
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemTypeName, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ElemType[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.FLOAT, f: v.float };
}
