// Safetensors reader: parses the header, checks it against the file, reads single tensors as float32.
import { RuntimeError } from '../errors.ts';
import type { ByteSource } from './types.ts';
import { fromBf16Array, fromHalfArray } from './float16.ts';
import { float32Of } from './util.ts';

/** Dtypes the runtime can load (converted to float32 on read). */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const dtypeBytes: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor's entry in a safetensors header; offsets are absolute in the file. */
export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  begin: number;
  /** Absolute byte offset just past the data. */
  end: number;
}

const maxHeaderBytes = 100 * 1024 * 1024;

/** A parsed safetensors file: its tensor table and the bytes behind it. */
export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly tensors: Map<string, TensorEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  /** Reads and validates the header (8-byte length, JSON table, offsets inside the file). */
  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const fileBytes = await source.size();
    if (fileBytes < 8) throw bad(source, `file is ${fileBytes} bytes, too short for a safetensors header`);
    const lenBytes = await source.read(0, 8);
    const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
    if (headerLen <= 1 || headerLen > maxHeaderBytes || 8 + headerLen > fileBytes) {
      throw bad(source, `header length ${headerLen} does not fit a file of ${fileBytes} bytes (truncated or not safetensors)`);
    }
    const headerBytes = await source.read(8, headerLen);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder().decode(headerBytes));
    } catch {
      throw bad(source, 'header is not valid JSON (corrupt or not a safetensors file)');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(source, 'header is not a JSON object');
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const offsets = e.data_offsets;
      if (typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(offsets) || offsets.length !== 2) {
        throw bad(source, `tensor '${name}': malformed header entry`);
      }
      const shape = e.shape as unknown[];
      if (!shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) throw bad(source, `tensor '${name}': bad shape`);
      const [b, en] = offsets as unknown[];
      if (typeof b !== 'number' || typeof en !== 'number' || b < 0 || en < b) throw bad(source, `tensor '${name}': bad data_offsets`);
      const entry: TensorEntry = { name, dtype: e.dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + en };
      if (entry.end > fileBytes) {
        throw bad(source, `tensor '${name}' ends at byte ${entry.end} but the file has ${fileBytes} bytes (truncated download?)`);
      }
      const per = dtypeBytes[e.dtype as SafetensorsDtype] as number | undefined;
      const count = (shape as number[]).reduce((a, d) => a * d, 1);
      if (per !== undefined && count * per !== en - b) {
        throw bad(source, `tensor '${name}': ${en - b} bytes do not hold ${count} ${e.dtype} values (corrupt header)`);
      }
      tensors.set(name, entry);
    }
    return new SafetensorsFile(source, tensors, metadata);
  }

  /** Reads a tensor as float32, checking its shape when `expectShape` is given. */
  async readFloat32(name: string, expectShape?: number[]): Promise<Float32Array> {
    const e = this.tensors.get(name);
    if (e === undefined) throw bad(this.source, `tensor '${name}' is missing`);
    if (expectShape !== undefined && (e.shape.length !== expectShape.length || e.shape.some((d, i) => d !== expectShape[i]))) {
      throw bad(this.source, `tensor '${name}' has shape [${e.shape.join(', ')}], the config implies [${expectShape.join(', ')}] (config and weights do not match)`);
    }
    const bytes = await this.source.read(e.begin, e.end - e.begin);
    switch (e.dtype) {
      case 'F32':
        return float32Of(bytes);
      case 'F16':
        return fromHalfArray(u16(bytes));
      case 'BF16':
        return fromBf16Array(u16(bytes));
      default:
        throw bad(this.source, `tensor '${name}' has dtype ${e.dtype}; supported: F32, F16, BF16`);
    }
  }
}

function u16(bytes: Uint8Array): Uint16Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Uint16Array(copy.buffer);
}

function bad(source: ByteSource, what: string): RuntimeError {
  return new RuntimeError('bad-weights', `${source.name}: ${what}`);
}
