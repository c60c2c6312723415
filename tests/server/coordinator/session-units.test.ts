// Bouquet plans c in declared-length sessions live, where a volunteer may keep less cache than one whole slot: a session
// that declares the longest length the model allows must still be granted a route (the placement's whole-slot guard).
import { afterEach, describe, expect, it } from 'vitest';
import { routeReleasePath } from '../../../core/api/index.ts';
import { budget, json, TestServers, until } from '../helpers.ts';
import { askRoute, servingAll } from '../swarm-api.ts';

// Joins within 100 ms share one placement run: two volunteers joining together are placed together.
const swarm = new TestServers({ coordinator: { keyBoundPeerIds: false, heartbeatTimeoutMs: 600_000, placementDelayMs: 100 } });
afterEach(() => swarm.cleanUp());

/** stories260K's slot in the test servers: 512 tokens per session. */
const slotTokens = 512;
/** All 5 blocks and 2.5 single-block slots: one short session fits beside the whole model, a whole slot (5 slots) does not. */
const sessionSized = budget(5, 2.5);

describe('bouquet live, with c counted in declared-length sessions', () => {
  it('grants a whole-slot declaration on fresh session-sized volunteers after short chats set the planned declared length', async () => {
    const s = await swarm.start({ policy: 'bouquet' });
    // Two volunteers serve while short chats (4 + 8 tokens, one 16-token block of a 512-token slot) set the workload.
    const first = await Promise.all([swarm.join(s, { peerId: 'a', memoryBytes: sessionSized }), swarm.join(s, { peerId: 'b', memoryBytes: sessionSized })]);
    await servingAll(s, { count: 2, timeoutMs: 10_000 });
    for (let i = 0; i < 4; i++) {
      const r = await askRoute(s, { clientId: `short-${i}`, promptTokens: 4, maxNewTokens: 8 });
      expect(r.kind).toBe('route');
      if (r.kind === 'route') await json(s.url + routeReleasePath(r.leaseId), { body: { leaseSecret: r.leaseSecret } });
      await new Promise((done) => setTimeout(done, 250));
    }
    // They leave; two fresh ones of the same size are placed from scratch on that workload.
    for (const v of first) await v.close();
    await until(() => s.coordinator.state().volunteers.length === 0, 10_000, 'the first volunteers gone');
    await Promise.all([swarm.join(s, { peerId: 'c', memoryBytes: sessionSized }), swarm.join(s, { peerId: 'd', memoryBytes: sessionSized })]);
    await servingAll(s, { count: 2, timeoutMs: 10_000 });
    expect(s.coordinator.state().placement.uncoveredBlocks).toEqual([]);

    // The longest declaration the model allows (a whole slot) is granted at once: some chain holds a whole slot on every hop.
    const long = await askRoute(s, { clientId: 'long', promptTokens: 16, maxNewTokens: slotTokens - 16 });
    expect(long.kind).toBe('route');
    // And a short chat beside it still gets its route.
    expect((await askRoute(s, { clientId: 'short-after', promptTokens: 4, maxNewTokens: 8 })).kind).toBe('route');
  }, 60_000);

  it('a lone volunteer that holds the model only beside short sessions serves them; once a second joins, a whole-slot declaration is granted too', async () => {
    const s = await swarm.start({ policy: 'bouquet' });
    const first = await swarm.join(s, { peerId: 'alone', memoryBytes: sessionSized });
    await servingAll(s, { count: 1, timeoutMs: 10_000 });
    // In whole slots nobody could hold blocks 3–4; planned in declared-length sessions it holds them all.
    expect(s.coordinator.state().volunteers[0]?.span).toEqual({ start: 0, end: 5 });
    expect((await askRoute(s, { clientId: 'short-0', promptTokens: 4, maxNewTokens: 8 })).kind).toBe('route');
    // A whole slot fits nowhere: no route at once, and the next short chat is not held up behind it.
    const tooLong = await askRoute(s, { clientId: 'long-0', promptTokens: 16, maxNewTokens: slotTokens - 16 });
    expect(tooLong.kind === 'error' && tooLong.error.code).toBe('no-route');
    expect((await askRoute(s, { clientId: 'short-1', promptTokens: 4, maxNewTokens: 8 })).kind).toBe('route');
    // A second volunteer: the spans move so that some chain keeps a whole slot (reconcile alone would keep `alone` on all five).
    await swarm.join(s, { peerId: 'second', memoryBytes: sessionSized });
    await servingAll(s, { count: 2, timeoutMs: 10_000 });
    expect(first.messages.some((m) => m.type === 'assignment' && m.reason === 'rebalance')).toBe(true);
    const long = await askRoute(s, { clientId: 'long-1', promptTokens: 16, maxNewTokens: slotTokens - 16 });
    expect(long.kind).toBe('route');
  }, 60_000);
});
