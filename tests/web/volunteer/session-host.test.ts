// SessionHost at the boundary: malformed, oversized, out-of-order and unknown-session frames get error
// replies with the right code, and a concurrent session's output is undisturbed.
import { describe, expect, it } from 'vitest';
import {
  FrameLink, MemoryNetwork, Reassembler, decodeFrame, encodeFrame, protocolVersion, toPackets,
  type ErrorFrame, type Frame, type PeerConnection,
} from '../../../core/protocol/index.ts';
import { ClientSession } from '../../../web/client/index.ts';
import { SessionHost } from '../../../web/volunteer/index.ts';
import { ListRouteProvider, ToyClientModel, ToyExecutor, toyGenerate, toyShape } from '../../support/toy-model.ts';

/** A raw peer that sends packets as given and collects what comes back. */
class RawPeer {
  readonly received: Frame[] = [];
  private readonly r = new Reassembler();
  constructor(readonly conn: PeerConnection) {
    conn.onMessage((p) => {
      const bytes = this.r.accept(p);
      if (bytes !== null) this.received.push(decodeFrame(bytes));
    });
  }
  async sendFrame(f: Frame): Promise<void> {
    for (const p of toPackets(encodeFrame(f), f.id)) await this.conn.send(p);
  }
  async answerTo(id: number): Promise<Frame> {
    for (let i = 0; i < 200; i++) {
      const f = this.received.find((x) => x.id === id);
      if (f !== undefined) return f;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`no answer to ${id}`);
  }
  async errorCode(id: number): Promise<string> {
    const f = await this.answerTo(id);
    return f.type === 'error' ? (f).code : `no error (${f.type})`;
  }
}

function hidden(rows: number, cols: number): { rows: number; cols: number; data: Float32Array } {
  return { rows, cols, data: new Float32Array(rows * cols).fill(0.25) };
}

describe('SessionHost', () => {
  it('answers bad frames with error codes and leaves a concurrent session undisturbed', async () => {
    const net = new MemoryNetwork();
    const transport = net.createTransport('v');
    const exec = new ToyExecutor();
    const host = new SessionHost(exec);
    host.setBlocks({ span: { start: 0, end: 6 }, cacheSlots: 20, maxSessionTokens: 64, hiddenSize: toyShape.hiddenSize });
    const refused: string[] = [];
    transport.onConnection((conn) => host.attach(new FrameLink(conn, { onProtocolError: (e) => refused.push(e.code), reassembly: { maxMessageBytes: 1 << 20 } })));

    const routes = new ListRouteProvider([{ peerId: 'v', span: { start: 0, end: 6 } }]);
    const client = new ClientSession({ transport: net.createTransport('good'), routes, model: new ToyClientModel() });
    const prompt = [3, 1, 4, 1, 5];
    const generation = client.generate(prompt, { maxNewTokens: 24 });

    const bad = new RawPeer(await net.createTransport('bad').connect('v'));
    const d = toyShape.hiddenSize;
    // Garbage that is not even a packet: an error with no request id.
    await bad.conn.send(new Uint8Array([1, 2, 3, 4]).buffer);
    // A chunked message declaring more than the host accepts.
    const huge = toPackets(new ArrayBuffer(3 << 20), 77)[0];
    if (huge === undefined) throw new Error('setup');
    await bad.conn.send(huge);
    // A step for a session that does not exist.
    await bad.sendFrame({ type: 'step', id: 10, sessionId: 'nope', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(1, d) });
    // Its own session, then steps that break the session's rules.
    await bad.sendFrame({ type: 'open-session', id: 11, sessionId: 'mine', span: { start: 0, end: 2 }, maxLength: 4, dtype: 'fp32' });
    expect((await bad.answerTo(11)).type).toBe('opened');
    await bad.sendFrame({ type: 'step', id: 12, sessionId: 'mine', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(1, d + 1) });
    await bad.sendFrame({ type: 'step', id: 13, sessionId: 'mine', stepIndex: 5, position: 0, dtype: 'fp32', hidden: hidden(1, d) });
    await bad.sendFrame({ type: 'step', id: 14, sessionId: 'mine', stepIndex: 0, position: 0, dtype: 'fp16', hidden: hidden(1, d) });
    await bad.sendFrame({ type: 'step', id: 15, sessionId: 'mine', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(5, d) });
    await bad.sendFrame({ type: 'open-session', id: 16, sessionId: 'far', span: { start: 4, end: 9 }, maxLength: 4, dtype: 'fp32' });
    await bad.sendFrame({ type: 'open-session', id: 17, sessionId: 'long', span: { start: 0, end: 1 }, maxLength: 65, dtype: 'fp32' });
    // A step whose values are NaN: encoded by hand since the encoder is honest.
    const nanStep = new Uint8Array(encodeFrame({ type: 'step', id: 18, sessionId: 'mine', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(1, d) }));
    new DataView(nanStep.buffer).setFloat32(nanStep.byteLength - 4, NaN, true);
    for (const p of toPackets(nanStep.buffer, 18)) await bad.conn.send(p);
    // A frame of an unknown type with a readable id.
    const unknownType = new Uint8Array(encodeFrame({ type: 'ping', id: 19, sentAtMs: 0 }));
    unknownType[2] = 42;
    for (const p of toPackets(unknownType.buffer, 19)) await bad.conn.send(p);
    // After all that, its own session still works.
    await bad.sendFrame({ type: 'step', id: 20, sessionId: 'mine', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(2, d) });

    expect(await bad.errorCode(10)).toBe('unknown-session');
    expect(await bad.errorCode(12)).toBe('bad-frame');
    expect(await bad.errorCode(13)).toBe('out-of-order');
    expect(await bad.errorCode(14)).toBe('bad-frame');
    expect(await bad.errorCode(15)).toBe('sequence-too-long');
    expect(await bad.errorCode(16)).toBe('wrong-span');
    expect(await bad.errorCode(17)).toBe('sequence-too-long');
    expect(await bad.errorCode(18)).toBe('bad-frame');
    expect(await bad.errorCode(19)).toBe('bad-frame');
    const ok = await bad.answerTo(20);
    expect(ok.type).toBe('step-result');
    const unattributed = bad.received.filter((f) => f.type === 'error' && f.id === 0).map((f) => (f as ErrorFrame).code);
    expect(unattributed.sort()).toEqual(['bad-frame', 'oversize']);

    const res = await generation;
    expect(res.ids).toEqual(await toyGenerate(prompt, 24));
    expect(res.failovers).toEqual([]);
    expect(refused.length).toBeGreaterThanOrEqual(11);
    // The good client's session is closed; the bad peer's session remains until it leaves.
    expect(host.stats().activeSessions).toBe(1);
    bad.conn.close();
    await new Promise((r) => setTimeout(r, 5));
    expect(host.stats()).toMatchObject({ activeSessions: 0, slotsUsed: 0 });
    expect(exec.openSessions).toBe(0);
  });

  it('refuses an open-session of another protocol version with version-mismatch, and serves the current one', async () => {
    const net = new MemoryNetwork();
    const transport = net.createTransport('v');
    const exec = new ToyExecutor();
    const host = new SessionHost(exec);
    host.setBlocks({ span: { start: 0, end: 6 }, cacheSlots: 20, maxSessionTokens: 64, hiddenSize: toyShape.hiddenSize });
    transport.onConnection((conn) => host.attach(new FrameLink(conn)));
    const peer = new RawPeer(await net.createTransport('mixed').connect('v'));
    const open = { type: 'open-session', sessionId: 'a', span: { start: 0, end: 2 }, maxLength: 8, dtype: 'fp32' } as const;
    await peer.sendFrame({ ...open, id: 1, protocolVersion: protocolVersion + 1 });
    // A peer from before the version field: its open-session ends after the dtype byte.
    const old = new Uint8Array(encodeFrame({ ...open, id: 2 })).slice(0, -4); // version bytes and the empty lease's length
    for (const p of toPackets(old.buffer, 2)) await peer.conn.send(p);
    await peer.sendFrame({ ...open, id: 3 });
    expect(await peer.errorCode(1)).toBe('version-mismatch');
    expect(await peer.errorCode(2)).toBe('version-mismatch');
    expect((await peer.answerTo(3)).type).toBe('opened');
    // The refused opens took no cache and reached no runtime.
    expect(host.stats()).toMatchObject({ activeSessions: 1, cacheTokenBlocksUsed: 2 }); // 2 blocks × ⌈8 / 16⌉
    expect(exec.openSessions).toBe(1);
    await peer.sendFrame({ type: 'step', id: 4, sessionId: 'a', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(1, toyShape.hiddenSize) });
    expect((await peer.answerTo(4)).type).toBe('step-result');
  });

  it('refuses new sessions while draining and resolves once the active ones close', async () => {
    const net = new MemoryNetwork();
    const transport = net.createTransport('v');
    const host = new SessionHost(new ToyExecutor());
    host.setBlocks({ span: { start: 0, end: 6 }, cacheSlots: 20, maxSessionTokens: 64, hiddenSize: toyShape.hiddenSize });
    transport.onConnection((conn) => host.attach(new FrameLink(conn)));
    const link = new FrameLink(await net.createTransport('c').connect('v'));
    await link.request<'open-session'>({ type: 'open-session', sessionId: 'a', span: { start: 0, end: 6 }, maxLength: 8, dtype: 'fp32' });
    let drained = false;
    const drain = host.drain(10_000).then(() => { drained = true; });
    await expect(link.request<'open-session'>({ type: 'open-session', sessionId: 'b', span: { start: 0, end: 1 }, maxLength: 8, dtype: 'fp32' }))
      .rejects.toMatchObject({ code: 'draining' });
    const step = await link.request<'step'>({ type: 'step', sessionId: 'a', stepIndex: 0, position: 0, dtype: 'fp32', hidden: hidden(1, toyShape.hiddenSize) });
    expect(step.hidden.rows).toBe(1);
    expect(drained).toBe(false);
    await link.request<'close'>({ type: 'close', sessionId: 'a' });
    await drain;
    expect(drained).toBe(true);
  });
});
