// A volunteer's session host against strangers: no session without a lease the coordinator signed, capped connections and sessions per peer, idle sessions closed.
import { describe, expect, it } from 'vitest';
import {
  MemoryNetwork, FrameLink, Reassembler, decodeFrame, encodeFrame, toPackets, type Frame, type PeerConnection,
} from '../../../core/protocol/index.ts';
import type { LeaseGrant } from '../../../core/api/index.ts';
import { CoordinatorKey } from '../../../server/index.ts';
import { LeaseChecker, SessionHost, type HostLimits } from '../../../web/volunteer/index.ts';
import { ToyExecutor, toyShape } from '../../support/toy-model.ts';

/** A raw peer that sends frames as given and collects the answers. */
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
    for (let i = 0; i < 500; i++) {
      const f = this.received.find((x) => x.id === id);
      if (f !== undefined) return f;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`no answer to ${id}`);
  }
  async outcome(id: number): Promise<string> {
    const f = await this.answerTo(id);
    return f.type === 'error' ? f.code : f.type;
  }
}

const span = { start: 0, end: 2 };
const coordinator = CoordinatorKey.ephemeral();

function grant(over: Partial<LeaseGrant> = {}): LeaseGrant {
  const now = Date.now();
  return {
    leaseId: 'L1', clientId: 'client', chain: [{ peerId: 'v', span }], promptTokens: 4, maxNewTokens: 4,
    grantedAtMs: now, expectedEndAtMs: now + 1000, expiresAtMs: now + 60_000, ...over,
  };
}

/** A host serving blocks [0, 6) with 20 slots on a toy runtime, checking leases of `coordinator`, reachable as 'v'. */
async function host(limits: HostLimits = {}): Promise<{ net: MemoryNetwork; host: SessionHost }> {
  const net = new MemoryNetwork();
  const h = new SessionHost(new ToyExecutor(), undefined, limits);
  h.setBlocks({ span: { start: 0, end: 6 }, cacheSlots: 20, maxSessionTokens: 64, hiddenSize: toyShape.hiddenSize });
  h.requireLeases(await LeaseChecker.create({ coordinatorKey: coordinator.publicKey, peerId: 'v' }));
  net.createTransport('v').onConnection((c) => h.attach(new FrameLink(c)));
  return { net, host: h };
}

const open = (id: number, sessionId: string, lease?: string): Frame => ({
  type: 'open-session', id, sessionId, span, maxLength: 8, dtype: 'fp32', ...(lease !== undefined ? { lease } : {}),
});

describe('SessionHost with leases', () => {
  it('opens a session only for a lease the coordinator signed for this peer, span and client (lease-refused otherwise)', async () => {
    const { net, host: h } = await host();
    const peer = new RawPeer(await net.createTransport('client').connect('v'));
    const other = CoordinatorKey.ephemeral();
    const tries: [string, string | undefined][] = [
      ['none', undefined],
      ['garbage', 'not-a-lease'],
      ['another key', other.signLease(grant())],
      ['another span', coordinator.signLease(grant({ chain: [{ peerId: 'v', span: { start: 0, end: 3 } }] }))],
      ['another peer', coordinator.signLease(grant({ chain: [{ peerId: 'w', span }] }))],
      ['another client', coordinator.signLease(grant({ clientId: 'someone-else' }))],
      ['expired', coordinator.signLease(grant({ expiresAtMs: Date.now() - 120_000 }))],
      ['tampered', coordinator.signLease(grant()).replace(/^./, (c) => (c === 'e' ? 'f' : 'e'))],
    ];
    for (const [i, [, lease]] of tries.entries()) await peer.sendFrame(open(i + 1, `s${i}`, lease));
    const outcomes = await Promise.all(tries.map((_, i) => peer.outcome(i + 1)));
    expect(Object.fromEntries(tries.map(([what], i) => [what, outcomes[i]]))).toEqual(Object.fromEntries(tries.map(([what]) => [what, 'lease-refused'])));
    expect(h.stats()).toMatchObject({ activeSessions: 0, slotsUsed: 0 });
    // The real lease opens, and is what the volunteer reports in its heartbeats.
    const lease = coordinator.signLease(grant());
    await peer.sendFrame(open(50, 'good', lease));
    expect(await peer.outcome(50)).toBe('opened');
    expect(h.sessionLeases()).toEqual([lease]);
  });

  it('caps connections from one peer (2000 tried) and sessions per peer; other peers are still served', async () => {
    const { net, host: h } = await host({ maxConnectionsPerPeer: 8, maxSessionsPerPeer: 3 });
    const flooder = net.createTransport('client');
    const conns = await Promise.all(Array.from({ length: 2000 }, () => flooder.connect('v')));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.connections).toBe(8);
    expect(conns.filter((c) => c.isOpen).length).toBe(8);
    const lease = coordinator.signLease(grant());
    const peer = new RawPeer(conns.find((c) => c.isOpen) ?? conns[0] as PeerConnection);
    for (let i = 1; i <= 4; i++) await peer.sendFrame(open(i, `s${i}`, lease));
    expect(await Promise.all([1, 2, 3, 4].map((i) => peer.outcome(i)))).toEqual(['opened', 'opened', 'opened', 'peer-limit']);
    const honest = new RawPeer(await net.createTransport('honest').connect('v'));
    await honest.sendFrame(open(1, 'h', coordinator.signLease(grant({ clientId: 'honest' }))));
    expect(await honest.outcome(1)).toBe('opened');
  });

  it('closes idle sessions and frees their cache; a session that keeps stepping stays', async () => {
    const { net, host: h } = await host({ idleTimeoutMs: 400 });
    const peer = new RawPeer(await net.createTransport('client').connect('v'));
    const lease = coordinator.signLease(grant());
    await peer.sendFrame(open(1, 'idle', lease));
    await peer.sendFrame(open(2, 'busy', lease));
    expect([await peer.outcome(1), await peer.outcome(2)]).toEqual(['opened', 'opened']);
    const bothBlocks = h.stats().cacheTokenBlocksUsed; // what the two sessions reserve (by their declared lengths)
    expect(bothBlocks).toBeGreaterThan(0);
    for (let step = 0; step < 6; step++) {
      await peer.sendFrame({ type: 'step', id: 10 + step, sessionId: 'busy', stepIndex: step, position: step, dtype: 'fp32', hidden: { rows: 1, cols: toyShape.hiddenSize, data: new Float32Array(toyShape.hiddenSize) } });
      expect(await peer.outcome(10 + step)).toBe('step-result');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(h.stats()).toMatchObject({ activeSessions: 1, cacheTokenBlocksUsed: bothBlocks / 2 }); // the idle one's cache is free
    await peer.sendFrame({ type: 'step', id: 30, sessionId: 'idle', stepIndex: 0, position: 0, dtype: 'fp32', hidden: { rows: 1, cols: toyShape.hiddenSize, data: new Float32Array(toyShape.hiddenSize) } });
    expect(await peer.outcome(30)).toBe('unknown-session');
    await new Promise((r) => setTimeout(r, 900));
    expect(h.stats()).toMatchObject({ activeSessions: 0, slotsUsed: 0 });
  });
});
