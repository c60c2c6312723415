// The peer frames' binary codec: a small header, then each frame kind's fields; decoding bounds and validates every field.
import { errorFromWire, errorToWire, parseWireError, type BouquetError, type ErrorData } from '../errors/index.ts';
import { PeerError } from './errors.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from './fp16.ts';
import { protocolVersion } from './version.ts';

import { type WireDtype, type HiddenStates, type ErrorFrame, type Frame, type FrameType } from './frame-types.ts';


/** First byte of every frame. */
export const frameMagic = 0xb7;
/**
 * Wire format version; a frame of another version is refused as 'bad-frame'. 2: error frames carry
 * kind and data. 3: open-session carries the signed lease.
 */
export const frameVersion = 3;
/** Bytes before a frame's body: magic, version, type, flags, u32 id. */
export const frameHeaderBytes = 8;
/** Longest session id, bytes of UTF-8. */
export const maxSessionIdBytes = 128;
/** Longest error message kept on the wire, bytes of UTF-8 (longer ones are cut). */
export const maxErrorMessageBytes = 2048;
/** Longest error detail (JSON of kind and data) on the wire, bytes of UTF-8. */
const maxErrorDetailBytes = 8192;
/** Longest signed lease an open-session carries, bytes of UTF-8 (core/api's maxLeaseTokenLength). */
export const maxLeaseBytes = 8192;
/** Widest hidden state accepted (d), values. */
export const maxHiddenCols = 1 << 16;

const typeCodes: Record<FrameType, number> = {
  'open-session': 1, opened: 2, step: 3, 'step-result': 4, close: 5, closed: 6, ping: 7, pong: 8, error: 9,
};
const typeByCode = new Map<number, FrameType>(Object.entries(typeCodes).map(([k, v]) => [v, k as FrameType]));
const dtypeCodes: Record<WireDtype, number> = { fp32: 0, fp16: 1 };

/** Bytes one value takes on the wire. */
export function dtypeBytes(dtype: WireDtype): number {
  return dtype === 'fp32' ? 4 : 2;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;
  u8(v: number): void { this.push(new Uint8Array([v])); }
  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.push(b);
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  f64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.push(b);
  }
  str(s: string, maxBytes: number): void {
    let bytes = encoder.encode(s);
    if (bytes.byteLength > maxBytes) bytes = bytes.slice(0, maxBytes);
    const len = new Uint8Array(2);
    new DataView(len.buffer).setUint16(0, bytes.byteLength, true);
    this.push(len);
    this.push(bytes);
  }
  bytes(b: Uint8Array): void { this.push(b); }
  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.byteLength;
  }
  finish(): ArrayBuffer {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out.buffer;
  }
}

function writeHidden(w: Writer, dtype: WireDtype, h: HiddenStates): void {
  if (h.data.length !== h.rows * h.cols) {
    throw new PeerError('bad-frame', `hidden states: ${h.rows}×${h.cols} needs ${h.rows * h.cols} values, got ${h.data.length}`);
  }
  w.u8(dtypeCodes[dtype]);
  w.u32(h.rows);
  w.u32(h.cols);
  if (dtype === 'fp32') {
    const copy = new Float32Array(h.data);
    w.bytes(new Uint8Array(copy.buffer));
  } else {
    w.bytes(new Uint8Array(float32ToFloat16Bits(h.data).buffer));
  }
}

/** A value that fits a u16 field; PeerError('bad-frame') otherwise. */
function u16Field(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new PeerError('bad-frame', `${what} must be an integer in [0, 65535] (got ${v})`);
  return v;
}

/** Encodes a frame to bytes (header + body). Throws PeerError('bad-frame') on a frame that cannot be valid. */
export function encodeFrame(f: Frame): ArrayBuffer {
  const w = new Writer();
  w.u8(frameMagic);
  w.u8(frameVersion);
  w.u8(typeCodes[f.type]);
  w.u8(0);
  w.u32(f.id >>> 0);
  switch (f.type) {
    case 'open-session':
      w.str(f.sessionId, maxSessionIdBytes);
      w.u32(f.span.start);
      w.u32(f.span.end);
      w.u32(f.maxLength);
      w.u8(dtypeCodes[f.dtype]);
      // Last, so a frame from before the field still decodes (as version 0) and gets a coded answer.
      w.u16(u16Field(f.protocolVersion ?? protocolVersion, 'protocol version'));
      if (f.lease !== undefined && encoder.encode(f.lease).byteLength > maxLeaseBytes) throw new PeerError('bad-frame', `a lease is at most ${maxLeaseBytes} bytes`);
      w.str(f.lease ?? '', maxLeaseBytes);
      break;
    case 'opened':
    case 'close':
    case 'closed':
      w.str(f.sessionId, maxSessionIdBytes);
      break;
    case 'step':
      w.str(f.sessionId, maxSessionIdBytes);
      w.u32(f.stepIndex);
      w.u32(f.position);
      writeHidden(w, f.dtype, f.hidden);
      break;
    case 'step-result':
      w.str(f.sessionId, maxSessionIdBytes);
      w.u32(f.stepIndex);
      writeHidden(w, f.dtype, f.hidden);
      break;
    case 'ping':
    case 'pong':
      w.f64(f.sentAtMs);
      break;
    case 'error': {
      w.str(f.code, 64);
      w.str(f.message, maxErrorMessageBytes);
      const detail: { kind?: string; data?: ErrorData } = {};
      if (f.kind !== undefined) detail.kind = f.kind;
      if (f.data !== undefined) detail.data = f.data;
      w.str(f.kind === undefined && f.data === undefined ? '' : JSON.stringify(detail), maxErrorDetailBytes);
      break;
    }
    default: {
      const never: never = f;
      throw new PeerError('bad-frame', `unknown frame ${JSON.stringify(never)}`);
    }
  }
  return w.finish();
}

class Reader {
  private o = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array, private readonly re: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string): void {
    if (this.o + n > this.bytes.byteLength) {
      throw new PeerError('bad-frame', `frame truncated reading ${what} (${this.bytes.byteLength} bytes)`, this.re);
    }
  }
  u8(what: string): number { this.need(1, what); return this.view.getUint8(this.o++); }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.o, true);
    this.o += 2;
    return v;
  }
  /** True when every byte has been read. */
  get atEnd(): boolean {
    return this.o === this.bytes.byteLength;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.o, true);
    this.o += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.o, true);
    this.o += 8;
    return v;
  }
  str(what: string, maxBytes: number): string {
    this.need(2, what);
    const n = this.view.getUint16(this.o, true);
    this.o += 2;
    if (n > maxBytes) throw new PeerError('bad-frame', `${what} is ${n} bytes, at most ${maxBytes} allowed`, this.re);
    this.need(n, what);
    try {
      const s = decoder.decode(this.bytes.subarray(this.o, this.o + n));
      this.o += n;
      return s;
    } catch {
      throw new PeerError('bad-frame', `${what} is not valid UTF-8`, this.re);
    }
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.bytes.slice(this.o, this.o + n);
    this.o += n;
    return b;
  }
  end(): void {
    if (this.o !== this.bytes.byteLength) {
      throw new PeerError('bad-frame', `frame has ${this.bytes.byteLength - this.o} trailing bytes`, this.re);
    }
  }
}

function readDtype(r: Reader, re: number): WireDtype {
  const c = r.u8('dtype');
  if (c === 0) return 'fp32';
  if (c === 1) return 'fp16';
  throw new PeerError('bad-frame', `unknown dtype code ${c} (0 = fp32, 1 = fp16)`, re);
}

function readHidden(r: Reader, re: number, maxBytes: number): { dtype: WireDtype; hidden: HiddenStates } {
  const dtype = readDtype(r, re);
  const rows = r.u32('rows');
  const cols = r.u32('cols');
  if (rows === 0 || cols === 0) throw new PeerError('bad-frame', `hidden states must not be empty (got ${rows}×${cols})`, re);
  if (cols > maxHiddenCols) throw new PeerError('bad-frame', `hidden size ${cols} exceeds ${maxHiddenCols}`, re);
  const byteLength = rows * cols * dtypeBytes(dtype);
  if (byteLength > maxBytes) throw new PeerError('oversize', `hidden states of ${byteLength} bytes exceed ${maxBytes}`, re);
  const raw = r.take(byteLength, `hidden states (${rows}×${cols} ${dtype})`);
  let data: Float32Array;
  if (dtype === 'fp32') {
    data = new Float32Array(raw.buffer, raw.byteOffset, rows * cols);
  } else {
    data = float16BitsToFloat32(new Uint16Array(raw.buffer, raw.byteOffset, rows * cols));
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new PeerError('bad-frame', `hidden states hold a non-finite value at row ${Math.floor(i / cols)}, column ${i % cols}`, re);
    }
  }
  return { dtype, hidden: { rows, cols, data } };
}

/** Limits a receiver applies while decoding. */
export interface DecodeLimits {
  /** Largest hidden-state payload accepted, bytes. */
  maxTensorBytes: number;
}

/** Default decode limits: 64 MiB of hidden states. */
export const defaultDecodeLimits: DecodeLimits = { maxTensorBytes: 64 * 1024 * 1024 };

/**
 * Decodes and validates one frame: header, type, field sizes, dtype, shape vs data length, finite
 * values. Throws PeerError ('bad-frame' or 'oversize') with `re` set to the frame's id when the
 * header could be read.
 */
export function decodeFrame(buf: ArrayBuffer | Uint8Array, limits: DecodeLimits = defaultDecodeLimits): Frame {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  if (bytes.byteLength < frameHeaderBytes) {
    throw new PeerError('bad-frame', `frame of ${bytes.byteLength} bytes is shorter than the ${frameHeaderBytes}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getUint32(4, true);
  if (view.getUint8(0) !== frameMagic) throw new PeerError('bad-frame', 'not a Bouquet frame (bad magic byte)');
  if (view.getUint8(1) !== frameVersion) {
    throw new PeerError('bad-frame', `frame version ${view.getUint8(1)} is not supported (this peer speaks ${frameVersion})`, id);
  }
  const type = typeByCode.get(view.getUint8(2));
  if (type === undefined) throw new PeerError('bad-frame', `unknown frame type ${view.getUint8(2)}`, id);
  const r = new Reader(bytes.subarray(frameHeaderBytes), id);
  let f: Frame;
  switch (type) {
    case 'open-session': {
      const sessionId = r.str('session id', maxSessionIdBytes);
      const start = r.u32('span start');
      const end = r.u32('span end');
      const maxLength = r.u32('max length');
      const dtype = readDtype(r, id);
      const version = r.atEnd ? 0 : r.u16('protocol version');
      const lease = r.atEnd ? '' : r.str('lease', maxLeaseBytes);
      if (end <= start) throw new PeerError('bad-frame', `block span [${start}, ${end}) is empty`, id);
      if (maxLength === 0) throw new PeerError('bad-frame', 'max length must be positive', id);
      f = { type, id, sessionId, span: { start, end }, maxLength, dtype, protocolVersion: version };
      if (lease !== '') f.lease = lease;
      break;
    }
    case 'opened':
    case 'close':
    case 'closed':
      f = { type, id, sessionId: r.str('session id', maxSessionIdBytes) };
      break;
    case 'step': {
      const sessionId = r.str('session id', maxSessionIdBytes);
      const stepIndex = r.u32('step index');
      const position = r.u32('position');
      const { dtype, hidden } = readHidden(r, id, limits.maxTensorBytes);
      f = { type, id, sessionId, stepIndex, position, dtype, hidden };
      break;
    }
    case 'step-result': {
      const sessionId = r.str('session id', maxSessionIdBytes);
      const stepIndex = r.u32('step index');
      const { dtype, hidden } = readHidden(r, id, limits.maxTensorBytes);
      f = { type, id, sessionId, stepIndex, dtype, hidden };
      break;
    }
    case 'ping':
    case 'pong':
      f = { type, id, sentAtMs: r.f64('sent at') };
      break;
    case 'error': {
      const code = r.str('error code', 64);
      const message = r.str('error message', maxErrorMessageBytes);
      const detailText = r.str('error detail', maxErrorDetailBytes);
      let detail: unknown = {};
      try {
        if (detailText !== '') detail = JSON.parse(detailText);
      } catch {
        throw new PeerError('bad-frame', 'error detail is not JSON', id);
      }
      if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) throw new PeerError('bad-frame', 'error detail must be an object', id);
      const d = detail as { kind?: unknown; data?: unknown };
      const w = parseWireError({ kind: d.kind, code, message, data: d.data });
      // An unknown code is refused, not folded into another: codes mean the same on both sides.
      if (w === null) throw new PeerError('bad-frame', `error frame with an unknown code or malformed data (code ${JSON.stringify(code.slice(0, 64))})`, id);
      const ef: ErrorFrame = { type, id, code: w.code, message: w.message };
      if (typeof d.kind === 'string') ef.kind = w.kind;
      if (w.data !== undefined) ef.data = w.data;
      f = ef;
      break;
    }
    default: {
      const never: never = type;
      throw new PeerError('bad-frame', `unknown frame type ${String(never)}`, id);
    }
  }
  r.end();
  return f;
}

/**
 * Builds the error frame that answers request `re` with `err`: any BouquetError keeps its class,
 * code and data; anything else is a bug on this side and travels as `internal`.
 */
export function errorFrame(err: unknown, re: number = err instanceof PeerError ? err.re : 0): ErrorFrame {
  const w = errorToWire(err);
  const f: ErrorFrame = { type: 'error', id: re, code: w.code, message: w.message, kind: w.kind };
  if (w.data !== undefined) f.data = w.data;
  return f;
}

/**
 * Rebuilds the error an error frame carries as the class it was thrown as (registered kinds); a
 * frame without a kind is a PeerError. A PeerError learns `re` and the remote `peerId`.
 */
export function errorFromFrame(f: ErrorFrame, peerId?: string): BouquetError {
  const kind = f.kind ?? 'PeerError';
  if (kind === 'PeerError') return new PeerError(f.code, f.message, f.id, peerId ?? (typeof f.data?.peerId === 'string' ? f.data.peerId : undefined), f.data);
  const w = { kind, code: f.code, message: f.message, ...(f.data !== undefined ? { data: f.data } : {}) };
  return errorFromWire(w);
}
