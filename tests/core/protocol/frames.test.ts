// Peer frames: round trips, validation of every field a peer could get wrong, fp16 and chunking limits.
import { describe, expect, it } from 'vitest';
import {
  PeerError, Reassembler, decodeFrame, encodeFrame, float16BitsToFloat32, float32ToFloat16Bits, toPackets,
  frameHeaderBytes, frameVersion, protocolVersion, type Frame,
} from '../../../core/protocol/index.ts';

function hidden(rows: number, cols: number, seed = 1): { rows: number; cols: number; data: Float32Array } {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 7.1 + i * 0.37) * 3;
  return { rows, cols, data };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof PeerError) return err.code;
    throw err;
  }
  throw new Error('expected a PeerError');
}

describe('frames', () => {
  const frames: Frame[] = [
    { type: 'open-session', id: 1, sessionId: 's-1', span: { start: 2, end: 5 }, maxLength: 256, dtype: 'fp32', protocolVersion: 7 },
    { type: 'opened', id: 1, sessionId: 's-1' },
    { type: 'step', id: 7, sessionId: 's-1', stepIndex: 3, position: 12, dtype: 'fp32', hidden: hidden(4, 64) },
    { type: 'step-result', id: 7, sessionId: 's-1', stepIndex: 3, dtype: 'fp32', hidden: hidden(4, 64, 2) },
    { type: 'close', id: 9, sessionId: 'séance ✓' },
    { type: 'closed', id: 9, sessionId: 'séance ✓' },
    { type: 'ping', id: 10, sentAtMs: 1234.5 },
    { type: 'pong', id: 10, sentAtMs: 1234.5 },
    { type: 'error', id: 11, code: 'cache-full', message: 'no free cache slots (3/3 used)' },
  ];
  for (const f of frames) {
    it(`round-trips ${f.type}`, () => {
      expect(decodeFrame(encodeFrame(f))).toEqual(f);
    });
  }

  it('carries fp16 hidden states at half the size, within half precision', () => {
    const h = hidden(3, 64);
    const f32 = encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: h });
    const f16 = encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp16', hidden: h });
    expect(f32.byteLength - f16.byteLength).toBe(3 * 64 * 2);
    const back = decodeFrame(f16);
    if (back.type !== 'step') throw new Error('expected a step');
    for (let i = 0; i < h.data.length; i++) {
      expect(Math.abs((back.hidden.data[i] ?? 0) - (h.data[i] ?? 0))).toBeLessThanOrEqual(Math.abs(h.data[i] ?? 0) * 2 ** -10 + 1e-7);
    }
  });

  it('converts fp16 edge values exactly', () => {
    const values = new Float32Array([0, -0, 1, -2, 65504, 6.103515625e-5, 5.960464477539063e-8, 1e9, -1e9]);
    const back = float16BitsToFloat32(float32ToFloat16Bits(values));
    expect(Array.from(back)).toEqual([0, -0, 1, -2, 65504, 6.103515625e-5, 5.960464477539063e-8, Infinity, -Infinity]);
  });

  it('refuses a step whose data does not match its declared shape', () => {
    const buf = new Uint8Array(encodeFrame({ type: 'step', id: 5, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(2, 8) }));
    const cut = buf.slice(0, buf.byteLength - 4);
    const err = (() => { try { decodeFrame(cut); } catch (e) { return e; } return undefined; })();
    expect(err).toBeInstanceOf(PeerError);
    expect((err as PeerError).code).toBe('bad-frame');
    expect((err as PeerError).re).toBe(5);
    const longer = new Uint8Array(buf.byteLength + 4);
    longer.set(buf);
    expect(codeOf(() => decodeFrame(longer))).toBe('bad-frame');
  });

  it('refuses non-finite values, unknown dtypes, types, versions and garbage', () => {
    const h = hidden(1, 4);
    h.data[2] = NaN;
    const withNaN = encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: h });
    expect(codeOf(() => decodeFrame(withNaN))).toBe('bad-frame');
    h.data[2] = Infinity;
    const withInf = encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp16', hidden: h });
    expect(codeOf(() => decodeFrame(withInf))).toBe('bad-frame');

    const ok = new Uint8Array(encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(1, 4) }));
    const badDtype = ok.slice();
    badDtype[frameHeaderBytes + 2 + 1 + 4 + 4] = 7; // dtype byte after session id, step index, position
    expect(codeOf(() => decodeFrame(badDtype))).toBe('bad-frame');
    const badType = ok.slice();
    badType[2] = 99;
    expect(codeOf(() => decodeFrame(badType))).toBe('bad-frame');
    const badVersion = ok.slice();
    badVersion[1] = frameVersion + 1;
    expect(codeOf(() => decodeFrame(badVersion))).toBe('bad-frame');
    expect(codeOf(() => decodeFrame(new Uint8Array([1, 2, 3])))).toBe('bad-frame');
    expect(codeOf(() => decodeFrame(new Uint8Array(64)))).toBe('bad-frame');
  });

  it('refuses empty spans, zero max length and empty hidden states', () => {
    expect(() => encodeFrame({ type: 'open-session', id: 1, sessionId: 's', span: { start: 3, end: 3 }, maxLength: 4, dtype: 'fp32' })).not.toThrow();
    expect(codeOf(() => decodeFrame(encodeFrame({ type: 'open-session', id: 1, sessionId: 's', span: { start: 3, end: 3 }, maxLength: 4, dtype: 'fp32' })))).toBe('bad-frame');
    expect(codeOf(() => decodeFrame(encodeFrame({ type: 'open-session', id: 1, sessionId: 's', span: { start: 0, end: 3 }, maxLength: 0, dtype: 'fp32' })))).toBe('bad-frame');
    expect(codeOf(() => decodeFrame(encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: { rows: 0, cols: 4, data: new Float32Array(0) } })))).toBe('bad-frame');
  });

  it('stamps open-session with this peer\'s protocol version, and reads a frame from before the field as version 0', () => {
    const open = { type: 'open-session', id: 4, sessionId: 's', span: { start: 0, end: 2 }, maxLength: 16, dtype: 'fp32' } as const;
    const stamped = decodeFrame(encodeFrame(open));
    expect(stamped).toEqual({ ...open, protocolVersion });
    const old = new Uint8Array(encodeFrame(open)).slice(0, -4); // the two version bytes, then the (empty) lease's length, end the body
    expect(decodeFrame(old)).toEqual({ ...open, protocolVersion: 0 });
    expect(decodeFrame(encodeFrame({ ...open, lease: 'payload.sig' }))).toEqual({ ...open, protocolVersion, lease: 'payload.sig' });
    expect(codeOf(() => encodeFrame({ ...open, lease: 'x'.repeat(8193) }))).toBe('bad-frame');
    expect(codeOf(() => encodeFrame({ ...open, protocolVersion: 70_000 }))).toBe('bad-frame');
  });

  it('refuses hidden states over the decode limit as oversize', () => {
    const f = encodeFrame({ type: 'step', id: 1, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(64, 64) });
    expect(codeOf(() => decodeFrame(f, { maxTensorBytes: 1024 }))).toBe('oversize');
  });
});

describe('chunking', () => {
  it('splits a frame larger than a packet and puts it back together', () => {
    const frame = encodeFrame({ type: 'step', id: 3, sessionId: 's', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(300, 512) });
    const packets = toPackets(frame, 1);
    expect(packets.length).toBe(Math.ceil(frame.byteLength / (262_144 - 16)));
    for (const p of packets) expect(p.byteLength).toBeLessThanOrEqual(262_144);
    const r = new Reassembler();
    let out: Uint8Array | null = null;
    for (const p of packets) out = r.accept(p);
    expect(out).not.toBeNull();
    expect(decodeFrame(out ?? new Uint8Array())).toEqual(decodeFrame(frame));
    expect(r.pendingCount).toBe(0);
  });

  it('interleaves two chunked messages', () => {
    const a = encodeFrame({ type: 'ping', id: 1, sentAtMs: 1 });
    const b = new Uint8Array(5000).fill(7).buffer;
    const pa = toPackets(new Uint8Array(3000).fill(1).buffer, 1, 1000);
    const pb = toPackets(b, 2, 1000);
    const r = new Reassembler();
    const done: number[] = [];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const x = pa[i];
      const y = pb[i];
      if (x !== undefined && r.accept(x) !== null) done.push(1);
      if (y !== undefined && r.accept(y) !== null) done.push(2);
    }
    expect(done).toEqual([1, 2]);
    expect(decodeFrame(r.accept(toPackets(a, 3)[0] ?? new ArrayBuffer(0)) ?? new Uint8Array())).toEqual({ type: 'ping', id: 1, sentAtMs: 1 });
  });

  it('enforces the size, pending and order limits, and drops stale partial messages', () => {
    const big = toPackets(new ArrayBuffer(10_000), 1, 1000);
    expect(codeOf(() => new Reassembler({ maxMessageBytes: 5000 }).accept(big[0] ?? new ArrayBuffer(0)))).toBe('oversize');
    const r = new Reassembler({ maxPending: 2 });
    r.accept(toPackets(new ArrayBuffer(3000), 1, 1000)[0] ?? new ArrayBuffer(0));
    r.accept(toPackets(new ArrayBuffer(3000), 2, 1000)[0] ?? new ArrayBuffer(0));
    expect(codeOf(() => r.accept(toPackets(new ArrayBuffer(3000), 3, 1000)[0] ?? new ArrayBuffer(0)))).toBe('too-many-pending');
    const skip = toPackets(new ArrayBuffer(3000), 1, 1000)[2] ?? new ArrayBuffer(0);
    expect(codeOf(() => r.accept(skip))).toBe('bad-frame');
    expect(r.pendingCount).toBe(1);
    let now = 0;
    const timed = new Reassembler({ timeoutMs: 100 }, () => now);
    timed.accept(toPackets(new ArrayBuffer(3000), 1, 1000)[0] ?? new ArrayBuffer(0));
    now = 500;
    expect(timed.sweep()).toBe(1);
    expect(codeOf(() => timed.accept(new Uint8Array([0xb8, 9])))).toBe('bad-frame');
  });
});
