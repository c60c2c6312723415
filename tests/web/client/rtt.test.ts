// Clients measure their round trips to volunteers (ping frames over the in-memory transport with emulated delays)
// and report them with each route request, bounded in count, value and age.
import { describe, expect, it } from 'vitest';
import { FrameLink, MemoryNetwork } from '../../../core/protocol/index.ts';
import { ClientSession, LinkPool, RttBook, maxMeasuredRttMs, rttSamplesPerPeer } from '../../../web/client/index.ts';
import { SessionHost } from '../../../web/volunteer/index.ts';
import { ListRouteProvider, ToyClientModel, ToyExecutor, toyShape } from '../../support/toy-model.ts';

function volunteer(net: MemoryNetwork, peerId: string, start: number, end: number): void {
  const host = new SessionHost(new ToyExecutor());
  host.setBlocks({ span: { start, end }, cacheSlots: 100, maxSessionTokens: toyShape.maxSeqLen, hiddenSize: toyShape.hiddenSize });
  net.createTransport(peerId).onConnection((conn) => host.attach(new FrameLink(conn)));
}

describe('measured round trips in route requests', () => {
  it('a client reports the RTTs it measured to the volunteers it talked to, close to the emulated ones', async () => {
    // One-way delays: 'near' 5 ms, 'far' 40 ms from the client (RTT 10 and 80 ms).
    const oneWayMs: Record<string, number> = { near: 5, far: 40 };
    const net = new MemoryNetwork({ delayMs: (a, b) => oneWayMs[a === 'client' ? b : a] ?? 0 });
    volunteer(net, 'near', 0, 3);
    volunteer(net, 'far', 3, 6);
    const routes = new ListRouteProvider([{ peerId: 'near', span: { start: 0, end: 3 } }, { peerId: 'far', span: { start: 3, end: 6 } }]);
    const transport = net.createTransport('client');
    const links = new LinkPool(transport);
    const generate = (): Promise<unknown> =>
      new ClientSession({ transport, links, routes, model: new ToyClientModel() }).generate([1, 5, 9], { maxNewTokens: 3 });

    await generate();
    expect(routes.asks[0]?.rttMs).toBeUndefined(); // nothing measured before the first route
    await generate();
    const rtt = routes.asks[1]?.rttMs;
    expect(Object.keys(rtt ?? {}).sort()).toEqual(['far', 'near']);
    // A ping over the emulated links takes at least its RTT (less a millisecond of timer rounding).
    // Upper bounds, and so the order near < far, would measure this shared machine's load (a stalled
    // event loop inflates either): only the lower bounds, which no unmeasured value meets, are asserted.
    expect(rtt?.near).toBeGreaterThanOrEqual(9);
    expect(rtt?.far).toBeGreaterThanOrEqual(79);
    expect(rtt).toEqual(links.rtts.fresh()); // what was sent is what the pool measured
    links.closeAll();
  });

  it('keeps a bounded number of peers, clamps values and forgets old measurements', () => {
    let nowMs = 0;
    const book = new RttBook({ maxPeers: 3, maxAgeMs: 1000, now: () => nowMs });
    expect(book.fresh()).toBeUndefined();
    book.record('a', 12);
    book.record('b', -5);
    book.record('c', 1e12);
    book.record('d', Number.NaN);
    expect(book.fresh()).toEqual({ a: 12, b: 0, c: maxMeasuredRttMs });
    nowMs = 600;
    book.record('a', 14); // measured again: now the most recent; its fresh 12 stays the least
    book.record('e', 7); // over the bound: the least recently measured ('b') goes
    expect(book.fresh()).toEqual({ c: maxMeasuredRttMs, a: 12, e: 7 });
    nowMs = 1500;
    expect(book.fresh()).toEqual({ a: 14, e: 7 }); // the 12 is older than maxAgeMs now
    expect([book.isStale('c'), book.isStale('a'), book.isStale('zz')]).toEqual([true, false, true]);
  });

  it('reports the least fresh round trip per peer, so a ping that waited on a busy volunteer does not raise it; keeps a bounded few', () => {
    let nowMs = 0;
    const book = new RttBook({ maxAgeMs: 1000, now: () => nowMs });
    book.record('v', 31);
    nowMs = 100;
    book.record('v', 250); // answered after a step of compute: not the network's round trip
    expect(book.fresh()).toEqual({ v: 31 });
    // Only the last rttSamplesPerPeer count: after that many slower ones the 31 is gone.
    for (let i = 0; i < rttSamplesPerPeer; i++) book.record('v', 40 + i);
    expect(book.fresh()).toEqual({ v: 40 });
  });
});
