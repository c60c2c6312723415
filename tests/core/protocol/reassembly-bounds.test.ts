// Attack: 16 packets of 17 bytes, each announcing a 64 MiB message — the link must not allocate what a peer only announces.
import { describe, expect, it } from 'vitest';
import { chunkHeaderBytes, FrameLink, MemoryNetwork, PeerError, Reassembler, toPackets, type PeerConnection } from '../../../core/protocol/index.ts';

const announced = 64 * 1024 * 1024;

/** A 17-byte chunk packet: header announcing `total` bytes, then one byte at offset 0. */
function teaser(messageId: number, total = announced): ArrayBuffer {
  const out = new Uint8Array(chunkHeaderBytes + 1);
  const v = new DataView(out.buffer);
  v.setUint8(0, 0xb8);
  v.setUint8(1, 1);
  v.setUint32(4, messageId, true);
  v.setUint32(8, total, true);
  v.setUint32(12, 0, true);
  return out.buffer;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof PeerError ? e.code : 'not a PeerError';
  }
  return undefined;
}

describe('reassembly bounds', () => {
  it('16 packets of 17 bytes: memory only for the bytes that came, the rest refused with too-many-pending', () => {
    const r = new Reassembler();
    const before = process.memoryUsage().arrayBuffers;
    const codes = Array.from({ length: 16 }, (_, i) => codeOf(() => r.accept(teaser(i + 1))));
    const grownBytes = process.memoryUsage().arrayBuffers - before;
    // Two announcements fit the 128 MiB the partial messages may declare in all; the other 14 are refused.
    expect(codes.slice(0, 2)).toEqual([undefined, undefined]);
    expect(codes.slice(2).every((c) => c === 'too-many-pending')).toBe(true);
    expect(r.pendingReceivedBytes).toBe(2);
    expect(r.pendingDeclaredBytes).toBeLessThanOrEqual(128 * 1024 * 1024);
    // Before the bound, 16 × 64 MiB (1 GiB) was allocated here; now only the packets themselves.
    expect(grownBytes).toBeLessThan(8 * 1024 * 1024);
  });

  it('an honest chunked frame still reassembles exactly, on its own link and after an attacker on another', async () => {
    const net = new MemoryNetwork({ maxMessageBytes: 64 * 1024 });
    const server = net.createTransport('volunteer');
    const attacker = net.createTransport('attacker');
    const honest = net.createTransport('honest');
    const refused: string[] = [];
    const accepted: PeerConnection[] = [];
    server.onConnection((c) => {
      accepted.push(c);
      const link = new FrameLink(c, { onProtocolError: (e) => refused.push(`${c.remotePeerId}:${e.code}`) });
      link.serve((f) => {
        if (f.type !== 'ping') throw new PeerError('bad-frame', 'ping only');
        return { type: 'pong', id: f.id, sentAtMs: f.sentAtMs };
      });
    });
    const bad = await attacker.connect('volunteer');
    for (let i = 1; i <= 16; i++) await bad.send(teaser(i));
    const good = new FrameLink(await honest.connect('volunteer'));
    const pong = await good.request({ type: 'ping', sentAtMs: 42 });
    expect(pong).toMatchObject({ type: 'pong', sentAtMs: 42 });
    // A big honest frame cut into chunks (a whole packet is 64 KiB here): reassembled byte for byte.
    const payload = new Uint8Array(150_000).map((_, i) => i % 251);
    const r = new Reassembler();
    let out: Uint8Array | null = null;
    for (const p of toPackets(payload.buffer, 7, 64 * 1024)) out = r.accept(p) ?? out;
    expect(out).toEqual(payload);
    await new Promise((res) => setTimeout(res, 10));
    expect(refused.filter((x) => x === 'attacker:too-many-pending')).toHaveLength(14);
    expect(refused.filter((x) => x.startsWith('honest:'))).toEqual([]);
    expect(accepted.length).toBe(2);
  });
});
