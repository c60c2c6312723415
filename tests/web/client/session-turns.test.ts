// Multi-turn chats (keepSessions): the second turn reuses the volunteers' sessions and KV caches and sends only its
// new tokens; with a volunteer gone or a session expired in between it fails over and replays, and the text is exact.
import { describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../../core/protocol/index.ts';
import { ClientSession, type GenerationResult } from '../../../web/client/index.ts';
import { toyVolunteer, type ToyVolunteer } from '../../support/host-fixture.ts';
import { ListRouteProvider, ToyClientModel, toyGenerate } from '../../support/toy-model.ts';

const prompt = [1, 5, 9, 2, 7];
const firstTokens = 10;
const secondTokens = 8;
/** The user's next message, after the first answer. */
const nextMessage = [3, 11, 4];

interface Swarm {
  vs: ToyVolunteer[];
  routes: ListRouteProvider;
  session: ClientSession;
}

function swarm(limits: Parameters<typeof toyVolunteer>[4] = {}): Swarm {
  const net = new MemoryNetwork();
  const vs = [
    toyVolunteer(net, 'v1', { start: 0, end: 3 }, 100, limits),
    toyVolunteer(net, 'v2', { start: 3, end: 6 }, 100, limits),
    toyVolunteer(net, 'spare', { start: 3, end: 6 }, 100, limits),
  ];
  // The spare is listed last: routes take it only once v2 is excluded or gone.
  const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
  const session = new ClientSession({ transport: net.createTransport('client'), routes, model: new ToyClientModel(), keepSessions: true });
  return { vs, routes, session };
}

const tokensProcessed = (vs: ToyVolunteer[]): number[] => vs.map((v) => v.host.stats().tokensProcessed);

/** Turn one, then turn two on the conversation so far (prompt, answer, next message); `between` runs in between. */
async function twoTurns(s: Swarm, between: () => Promise<void> | void = () => undefined): Promise<{ first: GenerationResult; second: GenerationResult; secondPrompt: number[]; sentBefore: number[] }> {
  const first = await s.session.generate(prompt, { maxNewTokens: firstTokens });
  expect(first.ids).toEqual(await toyGenerate(prompt, firstTokens));
  await between();
  const sentBefore = tokensProcessed(s.vs);
  const secondPrompt = [...prompt, ...first.ids, ...nextMessage];
  const second = await s.session.generate(secondPrompt, { maxNewTokens: secondTokens });
  return { first, second, secondPrompt, sentBefore };
}

describe('ClientSession multi-turn (keepSessions)', () => {
  it('the second turn reuses the sessions: only its new tokens are prefilled, the greedy text is the one a fresh run gives', async () => {
    const s = swarm();
    const { second, secondPrompt, sentBefore } = await twoTurns(s);
    expect(second.ids).toEqual(await toyGenerate(secondPrompt, secondTokens));
    // The caches hold the prompt and every answer token but the last (sampled, never stepped).
    const held = prompt.length + firstTokens - 1;
    expect(second.reusedTokens).toBe(held);
    const sent = tokensProcessed(s.vs).map((n, i) => n - (sentBefore[i] ?? 0));
    // New prompt tokens (the last answer token and the message), then one per decode step after the first token.
    expect(sent).toEqual([secondPrompt.length - held + secondTokens - 1, secondPrompt.length - held + secondTokens - 1, 0]);
    expect(second.failovers).toEqual([]);
    // One route for both turns, still held (its sessions open) until the conversation ends.
    expect(s.routes.asks).toHaveLength(1);
    expect(s.routes.released).toEqual([]);
    expect(s.vs.map((v) => v.host.stats().activeSessions)).toEqual([1, 1, 0]);
    await s.session.close();
    expect(s.routes.released).toEqual(['lease-1']);
    expect(s.vs.map((v) => v.host.stats().activeSessions)).toEqual([0, 0, 0]);
  });

  it('a volunteer that left between the turns is replaced: its blocks replay the history on the spare, the text is exact', async () => {
    const s = swarm();
    const { second, secondPrompt } = await twoTurns(s, () => {
      s.routes.markGone('v2');
      s.vs[1]?.transport.close();
    });
    expect(second.ids).toEqual(await toyGenerate(secondPrompt, secondTokens));
    expect(second.failovers.map((f) => [f.failedPeer, f.span, f.replacement.map((h) => h.peerId)])).toEqual([['v2', { start: 3, end: 6 }, ['spare']]]);
    // The first turn's steps v2 had run: the prompt and every decode step but the last token's.
    expect(second.failovers[0]?.replayedSteps).toBe(firstTokens);
    expect(second.route.map((h) => h.peerId)).toEqual(['v1', 'spare']);
    await s.session.close();
  });

  it('a session the volunteer closed as idle between the turns is failed over and replayed: the text is exact', async () => {
    // Idle long enough for a replay to reach the new sessions, short next to the pause between the turns.
    const s = swarm({ idleTimeoutMs: 1000 });
    const { second, secondPrompt } = await twoTurns(s, () => new Promise((r) => setTimeout(r, 1500)));
    expect(second.ids).toEqual(await toyGenerate(secondPrompt, secondTokens));
    // Both volunteers are alive, only their sessions are gone: each takes its span again with a new session.
    expect(second.failovers.map((f) => [f.failedPeer, f.code, f.replacement.map((h) => h.peerId)])).toEqual([
      ['v1', 'unknown-session', ['v1']],
      ['v2', 'unknown-session', ['v2']],
    ]);
    await s.session.close();
  });

  it('a prompt that does not extend the conversation (another question, a regenerated answer) starts a fresh chain', async () => {
    const s = swarm();
    await s.session.generate(prompt, { maxNewTokens: firstTokens });
    const other = [1, 6, 6, 2];
    const res = await s.session.generate(other, { maxNewTokens: secondTokens });
    expect(res.ids).toEqual(await toyGenerate(other, secondTokens));
    expect(res.reusedTokens).toBe(0);
    // The first turn's sessions and route were ended before the new chain opened.
    expect(s.routes.released).toEqual(['lease-1']);
    expect(s.routes.asks).toHaveLength(2);
    expect(s.vs.map((v) => v.host.stats().activeSessions)).toEqual([1, 1, 0]);
    await s.session.close();
  });
});
