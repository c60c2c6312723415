// ClientSession over the in-memory transport with SessionHost volunteers running the toy model double:
// equality with single-process generation, failover with replay, cache-full refusal, bounded retries.
import { describe, expect, it } from 'vitest';
import { CoordinatorApiError } from '../../../core/api/index.ts';
import { FrameLink, MemoryNetwork, PeerError } from '../../../core/protocol/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';
import { ClientSession } from '../../../web/client/index.ts';
import { toyVolunteer } from '../../support/host-fixture.ts';
import { ListRouteProvider, ToyClientModel, toyGenerate, toyShape } from '../../support/toy-model.ts';

const volunteer = toyVolunteer;

const prompt = [1, 5, 9, 2, 7];

describe('ClientSession over the in-memory transport (toy model double)', () => {
  it('generates exactly what a single process generates, through three volunteers', async () => {
    const net = new MemoryNetwork();
    const vs = [volunteer(net, 'v1', { start: 0, end: 2 }), volunteer(net, 'v2', { start: 2, end: 4 }), volunteer(net, 'v3', { start: 4, end: 6 })];
    const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel(), prefillChunkTokens: 2 });
    const streamed: number[] = [];
    const res = await session.generate(prompt, { maxNewTokens: 20, onToken: (t) => streamed.push(t.id) });
    const expected = await toyGenerate(prompt, 20);
    expect(res.ids).toEqual(expected);
    expect(streamed).toEqual(expected);
    expect(new Set(expected).size).toBeGreaterThan(2); // the reference is not a constant sequence
    expect(res.route.map((h) => h.peerId)).toEqual(['v1', 'v2', 'v3']);
    expect(res.failovers).toEqual([]);
    expect(res.perTokenMs).toHaveLength(19);
    // Sessions closed, slots freed, lease released.
    expect(vs.map((v) => v.host.stats().activeSessions)).toEqual([0, 0, 0]);
    expect(vs.map((v) => v.exec.openSessions)).toEqual([0, 0, 0]);
    expect(routes.released).toEqual(['lease-1']);
    // Prefill went in 3 chunks of ≤ 2 tokens, then 19 decode steps, on every hop.
    expect(vs.map((v) => v.exec.stepsRun)).toEqual([22, 22, 22]);
  });

  it('fails over a volunteer that leaves mid-generation and still produces the same text', async () => {
    const net = new MemoryNetwork();
    const vs = [
      volunteer(net, 'v1', { start: 0, end: 3 }),
      volunteer(net, 'v2', { start: 3, end: 6 }),
      volunteer(net, 'spare-a', { start: 3, end: 5 }),
      volunteer(net, 'spare-b', { start: 5, end: 6 }),
    ];
    const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel() });
    const res = await session.generate(prompt, {
      maxNewTokens: 16,
      onToken: (t) => {
        if (t.index === 6) {
          routes.markGone('v2');
          vs[1]?.transport.close();
        }
      },
    });
    expect(res.ids).toEqual(await toyGenerate(prompt, 16));
    expect(res.failovers).toHaveLength(1);
    const f = res.failovers[0];
    expect(f?.failedPeer).toBe('v2');
    expect(f?.code).toBe('peer-unavailable');
    expect(f?.span).toEqual({ start: 3, end: 6 });
    expect(f?.replacement.map((h) => h.peerId)).toEqual(['spare-a', 'spare-b']);
    expect(f?.replayedSteps).toBe(7); // the prefill and six decode steps v2 had processed
    expect(res.route.map((h) => h.peerId)).toEqual(['v1', 'spare-a', 'spare-b']);
    expect(routes.asks[1]?.span).toEqual({ start: 3, end: 6 });
    expect(routes.asks[1]?.excludePeers).toEqual(['v2']);
    expect(routes.released).toEqual(['lease-1', 'lease-2']);
  });

  // A network change: the only other volunteer for the lost span re-registers only after the failover's tries are spent.
  it('a failover waits failoverWaitMs for a replacement that comes back late, then gives up with no-route', async () => {
    for (const [waitMs, comesBack] of [[5000, true], [0, false]] as const) {
      const net = new MemoryNetwork();
      const vs = [volunteer(net, 'v1', { start: 0, end: 3 }), volunteer(net, 'v2', { start: 3, end: 6 }), volunteer(net, 'late', { start: 3, end: 6 })];
      const gone = new Set(['late']);
      const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })), gone);
      const ask = routes.requestRoute.bind(routes);
      // 'late' is back at the 7th failover ask: past routeRetries (3), inside the wait. While the failover
      // asks, the session says which hop it is replacing (the chat page's status line shows it).
      const replacingSeen: unknown[] = [];
      routes.requestRoute = (a) => {
        if (routes.asks.length > 0) replacingSeen.push(session.replacing);
        if (comesBack && routes.asks.length === 7) gone.delete('late');
        return ask(a);
      };
      const session: ClientSession = new ClientSession({
        transport: net.createTransport('client'), routes, model: new ToyClientModel(), routeRetries: 3, failoverWaitMs: waitMs, backoffBaseMs: 1, backoffMaxMs: 4,
      });
      const run = session.generate(prompt, { maxNewTokens: 12, onToken: (t) => { if (t.index === 4) { routes.markGone('v2'); vs[1]?.transport.close(); } } });
      if (comesBack) {
        const res = await run;
        expect(res.ids).toEqual(await toyGenerate(prompt, 12));
        expect(res.failovers.map((f) => f.replacement.map((h) => h.peerId))).toEqual([['late']]);
        expect(routes.asks.length).toBe(8);
        expect(replacingSeen).toEqual(new Array(7).fill({ failedPeer: 'v2', span: { start: 3, end: 6 } }));
        expect(session.replacing).toBeNull();
      } else {
        await expect(run).rejects.toMatchObject({ code: 'no-route' });
        expect(routes.asks.length).toBe(1 + 3);
        expect(vs[0]?.host.stats().activeSessions).toBe(0);
        expect(session.replacing).toBeNull();
      }
    }
  });

  // A TURN server that refuses this page: the peer is alive and keeps its blocks, so no replacement is coming.
  it('a volunteer this page cannot reach (an ICE problem) is replaced by what the swarm has now, without waiting failoverWaitMs', async () => {
    const net = new MemoryNetwork();
    volunteer(net, 'v1', { start: 0, end: 3 });
    volunteer(net, 'v2', { start: 3, end: 6 });
    const routes = new ListRouteProvider([{ peerId: 'v1', span: { start: 0, end: 3 } }, { peerId: 'v2', span: { start: 3, end: 6 } }]);
    const transport = net.createTransport('client');
    const connect = transport.connect.bind(transport);
    transport.connect = (peerId, options) =>
      peerId === 'v2' ? Promise.reject(new PeerError('timeout', 'no data connection to v2: the TURN server refused this page', 0, 'v2', { ice: 'turn-refused' })) : connect(peerId, options);
    const session = new ClientSession({ transport, routes, model: new ToyClientModel(), routeRetries: 3, failoverWaitMs: 60_000, backoffBaseMs: 1, backoffMaxMs: 4 });
    await expect(session.generate(prompt, { maxNewTokens: 8 })).rejects.toMatchObject({ code: 'no-route', data: { ice: 'turn-refused' } });
    // The first route, then routeRetries asks for blocks 3–6 without v2, and no more: a 60 s wait would keep asking.
    expect(routes.asks.length).toBe(1 + 3);
    expect(routes.asks[1]?.excludePeers).toEqual(['v2']);
  });

  it('routes around a volunteer whose cache is full', async () => {
    const net = new MemoryNetwork();
    const vs = [
      volunteer(net, 'full', { start: 0, end: 6 }, 0),
      volunteer(net, 'a', { start: 0, end: 3 }),
      volunteer(net, 'b', { start: 3, end: 6 }),
    ];
    const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel() });
    const res = await session.generate(prompt, { maxNewTokens: 8 });
    expect(res.ids).toEqual(await toyGenerate(prompt, 8));
    expect(res.failovers.map((f) => [f.failedPeer, f.code])).toEqual([['full', 'cache-full']]);
    expect(res.route.map((h) => h.peerId)).toEqual(['a', 'b']);
    expect(vs[0]?.exec.stepsRun).toBe(0);
  });

  it('counts a session over k blocks as k slots and refuses the one that does not fit', async () => {
    const net = new MemoryNetwork();
    const v = volunteer(net, 'v', { start: 0, end: 6 }, 8);
    const conn = await net.createTransport('c').connect('v');
    const link = new FrameLink(conn);
    // Sessions declaring the whole slot length (128 tokens), so each block takes a whole slot.
    const slot = toyShape.maxSeqLen;
    await link.request<'open-session'>({ type: 'open-session', sessionId: 's1', span: { start: 0, end: 6 }, maxLength: slot, dtype: 'fp32' });
    await expect(link.request<'open-session'>({ type: 'open-session', sessionId: 's2', span: { start: 0, end: 3 }, maxLength: slot, dtype: 'fp32' }))
      .rejects.toMatchObject({ code: 'cache-full' });
    await link.request<'open-session'>({ type: 'open-session', sessionId: 's3', span: { start: 0, end: 2 }, maxLength: slot, dtype: 'fp32' });
    expect(v.host.stats()).toMatchObject({ slotsUsed: 8, slotsTotal: 8, activeSessions: 2 });
    await link.request<'close'>({ type: 'close', sessionId: 's1' });
    expect(v.host.stats()).toMatchObject({ slotsUsed: 2, activeSessions: 1 });
    link.close();
    await new Promise((r) => setTimeout(r, 5));
    expect(v.host.stats()).toMatchObject({ slotsUsed: 0, activeSessions: 0 });
  });

  it('gives up with a clear code after bounded failovers instead of looping', async () => {
    const net = new MemoryNetwork();
    const vs = [volunteer(net, 'v1', { start: 0, end: 3 }), volunteer(net, 'v2', { start: 3, end: 6 })];
    // The route provider keeps offering peers that have all left: every failover fails.
    const routes = new ListRouteProvider([
      { peerId: 'v1', span: { start: 0, end: 3 } }, { peerId: 'v2', span: { start: 3, end: 6 } },
      ...['x1', 'x2', 'x3', 'x4', 'x5', 'x6'].map((peerId) => ({ peerId, span: { start: 3, end: 6 } })),
    ]);
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel(), maxFailovers: 3, backoffBaseMs: 1 });
    const err = await session.generate(prompt, { maxNewTokens: 10, onToken: (t) => { if (t.index === 2) vs[1]?.transport.close(); } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect((err as PeerError).code).toBe('peer-unavailable');
    expect((err as PeerError).message).toMatch(/gave up after 3 failovers/);
    expect(routes.asks.length).toBe(4);
    expect(vs[0]?.host.stats().activeSessions).toBe(0);
  });

  it('times out a silent volunteer and fails over', async () => {
    const net = new MemoryNetwork();
    const vs = [volunteer(net, 'v1', { start: 0, end: 6 }), volunteer(net, 'v2', { start: 0, end: 6 })];
    const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
    // v1 accepts sessions but never answers steps (a hung tab).
    const hung = vs[0];
    if (hung === undefined) throw new Error('setup');
    hung.exec.step = () => new Promise(() => undefined);
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel(), stepTimeoutMs: 50 });
    const res = await session.generate(prompt, { maxNewTokens: 5 });
    expect(res.ids).toEqual(await toyGenerate(prompt, 5));
    expect(res.failovers.map((f) => [f.failedPeer, f.code])).toEqual([['v1', 'timeout']]);
  });

  it("stopping a generation ends it with code 'aborted', closes its sessions and releases its route", async () => {
    const net = new MemoryNetwork();
    const vs = [volunteer(net, 'v1', { start: 0, end: 3 }), volunteer(net, 'v2', { start: 3, end: 6 })];
    const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel() });
    const abort = new AbortController();
    const streamed: number[] = [];
    const err = await session.generate(prompt, {
      maxNewTokens: 20, signal: abort.signal,
      onToken: (t) => {
        streamed.push(t.id);
        if (t.index === 3) abort.abort();
      },
    }).catch((e: unknown) => e);
    expect(isBouquetError(err, 'aborted')).toBe(true);
    expect(streamed).toEqual((await toyGenerate(prompt, 20)).slice(0, 4));
    expect(vs.map((v) => v.host.stats().activeSessions)).toEqual([0, 0]);
    expect(routes.released).toEqual(['lease-1']);
  });

  it('refuses an empty prompt as bad-input, before asking for a route', async () => {
    const net = new MemoryNetwork();
    const routes = new ListRouteProvider([]);
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel() });
    await expect(session.generate([], { maxNewTokens: 4 })).rejects.toMatchObject({ code: 'bad-input' });
    expect(routes.asks).toEqual([]);
  });

  it('ends an aborted generation with code aborted, not timeout', async () => {
    const net = new MemoryNetwork();
    const v = volunteer(net, 'v1', { start: 0, end: 6 });
    const routes = new ListRouteProvider([{ peerId: v.peerId, span: v.span }]);
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel() });
    const abort = new AbortController();
    const run = session.generate(prompt, { maxNewTokens: 20, signal: abort.signal, onToken: (t) => t.index === 2 && abort.abort() });
    await expect(run).rejects.toMatchObject({ code: 'aborted' });
  });

  it('passes the model-mismatch of the coordinator through as model-mismatch', async () => {
    const net = new MemoryNetwork();
    const routes = {
      requestRoute: () => Promise.reject(new CoordinatorApiError('model-mismatch', 'this coordinator serves another model', 'modelId')),
      releaseRoute: () => Promise.resolve(),
    };
    const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel() });
    await expect(session.generate(prompt, { maxNewTokens: 4 })).rejects.toMatchObject({ code: 'model-mismatch' });
  });
});
