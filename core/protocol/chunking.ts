// Packets: frames cut to fit a data channel's message limit (Chromium: 256 KiB) and put back together, with limits.
import { BouquetError } from '../errors/index.ts';
import { PeerError } from './errors.ts';

/** Chromium's largest data-channel message, bytes. */
export const dataChannelMaxMessageBytes = 262_144;
/** First byte of every packet. */
export const packetMagic = 0xb8;
const kindWhole = 0;
const kindChunk = 1;
/** Header of a whole-frame packet: magic, kind. */
export const wholeHeaderBytes = 2;
/** Header of a chunk packet: magic, kind, u16 reserved, u32 message id, u32 total bytes, u32 offset. */
export const chunkHeaderBytes = 16;

/**
 * Cuts one encoded frame into packets of at most `maxPacketBytes` each. A frame that fits goes as
 * one packet; a larger one as numbered chunks of message `messageId`.
 */
export function toPackets(frame: ArrayBuffer, messageId: number, maxPacketBytes: number = dataChannelMaxMessageBytes): ArrayBuffer[] {
  if (maxPacketBytes <= chunkHeaderBytes) throw new BouquetError('bad-argument', `maxPacketBytes must exceed ${chunkHeaderBytes}`);
  const src = new Uint8Array(frame);
  if (src.byteLength + wholeHeaderBytes <= maxPacketBytes) {
    const out = new Uint8Array(src.byteLength + wholeHeaderBytes);
    out[0] = packetMagic;
    out[1] = kindWhole;
    out.set(src, wholeHeaderBytes);
    return [out.buffer];
  }
  const payload = maxPacketBytes - chunkHeaderBytes;
  const packets: ArrayBuffer[] = [];
  for (let offset = 0; offset < src.byteLength; offset += payload) {
    const part = src.subarray(offset, Math.min(src.byteLength, offset + payload));
    const out = new Uint8Array(part.byteLength + chunkHeaderBytes);
    const v = new DataView(out.buffer);
    v.setUint8(0, packetMagic);
    v.setUint8(1, kindChunk);
    v.setUint32(4, messageId >>> 0, true);
    v.setUint32(8, src.byteLength, true);
    v.setUint32(12, offset, true);
    out.set(part, chunkHeaderBytes);
    packets.push(out.buffer);
  }
  return packets;
}

/** What a receiver accepts while putting frames back together. */
export interface ReassemblyLimits {
  /** Largest reassembled frame, bytes. */
  maxMessageBytes: number;
  /** Most messages partially received at once. */
  maxPending: number;
  /**
   * Most bytes the partial messages may declare in all, bytes (their `total` headers summed). Memory
   * is taken only as bytes arrive, so this bounds what a peer can make us hold by announcing.
   */
  maxPendingBytes: number;
  /** A partial message older than this is dropped, ms. */
  timeoutMs: number;
}

/** Defaults: 64 MiB frames, 16 partial messages declaring at most 128 MiB in all (two largest frames), 30 s. */
export const defaultReassemblyLimits: ReassemblyLimits = {
  maxMessageBytes: 64 * 1024 * 1024,
  maxPending: 16,
  maxPendingBytes: 128 * 1024 * 1024,
  timeoutMs: 30_000,
};

interface Pending {
  /** Declared size, bytes. */
  total: number;
  /** The chunks so far, in order (copied: the packets' buffers are not ours to keep). */
  parts: Uint8Array[];
  received: number;
  startedAtMs: number;
}

/**
 * Puts packets back into frames. `accept` returns the whole frame when its last packet arrives,
 * null while waiting for more, and throws PeerError for a packet that breaks the rules (the
 * partial message it belongs to is dropped; other messages are not disturbed).
 */
export class Reassembler {
  private readonly pending = new Map<number, Pending>();
  private readonly limits: ReassemblyLimits;

  constructor(limits: Partial<ReassemblyLimits> = {}, private readonly nowMs: () => number = () => Date.now()) {
    this.limits = { ...defaultReassemblyLimits, ...limits };
  }

  /** Number of partially received messages. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Bytes the partial messages declare in all. */
  get pendingDeclaredBytes(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.total;
    return n;
  }

  /** Bytes held for partial messages (what has arrived). */
  get pendingReceivedBytes(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.received;
    return n;
  }

  /** Drops partial messages older than the timeout; returns how many were dropped. */
  sweep(): number {
    const now = this.nowMs();
    let dropped = 0;
    for (const [id, p] of this.pending) {
      if (now - p.startedAtMs > this.limits.timeoutMs) {
        this.pending.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  accept(packet: ArrayBuffer | Uint8Array): Uint8Array | null {
    const bytes = packet instanceof Uint8Array ? packet : new Uint8Array(packet);
    if (bytes.byteLength < wholeHeaderBytes || bytes[0] !== packetMagic) {
      throw new PeerError('bad-frame', `not a Bouquet packet (${bytes.byteLength} bytes, bad magic byte)`);
    }
    if (bytes[1] === kindWhole) {
      if (bytes.byteLength - wholeHeaderBytes > this.limits.maxMessageBytes) {
        throw new PeerError('oversize', `frame of ${bytes.byteLength - wholeHeaderBytes} bytes exceeds ${this.limits.maxMessageBytes}`);
      }
      return bytes.subarray(wholeHeaderBytes);
    }
    if (bytes[1] !== kindChunk) throw new PeerError('bad-frame', `unknown packet kind ${bytes[1]}`);
    if (bytes.byteLength <= chunkHeaderBytes) throw new PeerError('bad-frame', 'chunk packet without payload');
    this.sweep();
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const messageId = v.getUint32(4, true);
    const total = v.getUint32(8, true);
    const offset = v.getUint32(12, true);
    const part = bytes.subarray(chunkHeaderBytes);
    let p = this.pending.get(messageId);
    if (p === undefined) {
      if (offset !== 0) throw new PeerError('bad-frame', `chunk of unknown message ${messageId} at offset ${offset}`);
      if (total > this.limits.maxMessageBytes) {
        throw new PeerError('oversize', `message of ${total} bytes exceeds ${this.limits.maxMessageBytes}`);
      }
      if (this.pending.size >= this.limits.maxPending) {
        throw new PeerError('too-many-pending', `more than ${this.limits.maxPending} partial messages at once`);
      }
      const declared = this.pendingDeclaredBytes;
      if (declared + total > this.limits.maxPendingBytes) {
        throw new PeerError('too-many-pending', `partial messages would declare ${declared + total} bytes, more than ${this.limits.maxPendingBytes}`, 0, undefined, { declaredBytes: declared + total, maxPendingBytes: this.limits.maxPendingBytes });
      }
      p = { total, parts: [], received: 0, startedAtMs: this.nowMs() };
      this.pending.set(messageId, p);
    }
    if (total !== p.total || offset !== p.received || offset + part.byteLength > total) {
      this.pending.delete(messageId);
      throw new PeerError(
        'bad-frame',
        `chunk of message ${messageId} does not fit (total ${total} vs ${p.total}, offset ${offset} vs ${p.received}, ${part.byteLength} bytes)`,
      );
    }
    p.parts.push(part.slice());
    p.received += part.byteLength;
    if (p.received < total) return null;
    this.pending.delete(messageId);
    // The one allocation of the whole frame, once all of it is here.
    const buf = new Uint8Array(total);
    let at = 0;
    for (const c of p.parts) {
      buf.set(c, at);
      at += c.byteLength;
    }
    return buf;
  }
}
