// VolunteerAgents with the real coordinator server (createServer) and in-thread runtimes on stories260K, peers
// over the in-memory transport: registration, placement, serving, a coordinator restart mid-generation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import WebSocket from 'ws';
import { apiPaths, parseSwarmState, type SwarmState } from '../../../core/api/index.ts';
import { MemoryNetwork } from '../../../core/protocol/index.ts';
import { ClientSession, CoordinatorRoutes, clientModelFromRuntime, samplerFor, type FailoverRecord } from '../../../web/client/index.ts';
import {
  VolunteerAgent, WebSocketCoordinator, inThreadVolunteerRuntime, type VolunteerStatus,
} from '../../../web/volunteer/index.ts';
import { createServer, type BouquetServer } from '../../../server/index.ts';
import { resolveModel } from '../../../server/models/index.ts';
import { createInThreadRuntime, generateText, type BlockRuntime } from '../../../worker/runtime/index.ts';
import { openTokenizer, type TextTokenizer } from '../../../worker/tokenizer/index.ts';
import { openModelWeights, type ModelWeights } from '../../../worker/weights/index.ts';

const modelDir = '../shared/models/stories260K';
const greedyParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };
const maxSessionTokens = 128;

let weights: ModelWeights;
let tokenizer: TextTokenizer;
let clientRt: BlockRuntime;
let server: BouquetServer | undefined;

function startServer(port = 0): Promise<BouquetServer> {
  return createServer({
    port, model: modelDir, logger: 'silent', modelSizing: { maxSessionTokens },
    // The default policy (bouquet): these tests need every one of the three volunteers to hold blocks (a redundant one to
    // move, spans to keep), which its spare spans give.
    // Memory transports with hand-picked peer ids (v1, w1…); every agent still proves its key.
    coordinator: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 3000, placementDelayMs: 20, keyBoundPeerIds: false },
  });
}

async function swarm(origin: string): Promise<SwarmState> {
  const res = await fetch(new URL(apiPaths.swarm, origin));
  const parsed = parseSwarmState(await res.json());
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  const model = await resolveModel(modelDir);
  weights = await openModelWeights(model.files, model.layout);
  tokenizer = await openTokenizer(model.files, weights.shape);
  clientRt = await createInThreadRuntime(ort, weights, { client: true, backends: ['wasm'], threads: 1, maxSessionTokens });
});

afterAll(async () => {
  await server?.close();
  await clientRt.dispose();
});

describe('VolunteerAgent with the coordinator', () => {
  it('registers, serves its assignment, and survives a coordinator restart mid-generation', async () => {
    server = await startServer();
    const origin = server.url;
    const port = server.port;
    const info = server.model.info;
    const net = new MemoryNetwork();
    const statuses: VolunteerStatus[] = [];
    const agents = ['v1', 'v2', 'v3'].map((peerId) => {
      const agent = new VolunteerAgent({
        transport: net.createTransport(peerId),
        coordinator: new WebSocketCoordinator({ origin, createSocket: (url) => new WebSocket(url), reconnectBaseMs: 50, reconnectMaxMs: 200 }),
        runtime: inThreadVolunteerRuntime(ort, weights, { threads: 1, fixedSpeed: { decodeMsPerBlock: 0.2, prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 0.2 } } }),
        // Room for two blocks and a few sessions each: the placement must split the model.
        memoryBytes: 2 * info.blockBytes + 12 * info.cacheBytesPerBlock,
        backend: 'wasm', modelId: info.id, hiddenSize: weights.shape.hiddenSize,
      });
      if (peerId === 'v1') agent.onChange((s) => { if (statuses.at(-1) !== s.status) statuses.push(s.status); });
      return agent;
    });
    await Promise.all(agents.map((a) => a.start()));
    await until('every volunteer serving and the model covered', async () => {
      const s = await swarm(origin);
      return s.volunteers.length === 3 && s.volunteers.every((v) => v.state === 'serving' && v.span !== null) && s.placement.uncoveredBlocks.length === 0;
    });
    expect(statuses.slice(0, 5)).toEqual(['measuring speed', 'waiting for an assignment', 'downloading', 'loading', 'serving']);
    expect(statuses).toContain('serving');
    const spans = agents.map((a) => a.snapshot.span);
    expect(spans.every((s) => s !== null && s.end - s.start < weights.shape.numBlocks)).toBe(true);

    const prompt = 'Once upon a time';
    const maxTokens = 40;
    const ref = await (async () => {
      const rt = await createInThreadRuntime(ort, weights, { blocks: { start: 0, end: weights.shape.numBlocks }, client: true, backends: ['wasm'], threads: 1, maxSessionTokens });
      try {
        return (await generateText(rt, tokenizer, prompt, { maxNewTokens: maxTokens })).ids;
      } finally {
        await rt.dispose();
      }
    })();
    const promptIds = tokenizer.encode(prompt, { bos: true });
    const generate = async (clientId: string, onToken?: (i: number) => void): Promise<{ ids: number[]; hops: number }> => {
      const routes = new CoordinatorRoutes({ origin, clientId, modelId: info.id });
      const session = new ClientSession({ transport: net.createTransport(clientId), routes, model: clientModelFromRuntime(clientRt, weights.shape, maxSessionTokens) });
      try {
        const res = await session.generate(promptIds, {
          maxNewTokens: maxTokens, sampler: samplerFor(greedyParams, 1), stopTokenIds: [tokenizer.bosId, ...tokenizer.eosIds],
          ...(onToken !== undefined ? { onToken: (t) => onToken(t.index) } : {}),
        });
        return { ids: res.ids, hops: res.route.length };
      } finally {
        routes.dispose();
      }
    };
    const first = await generate('c1');
    expect(first.ids).toEqual(ref);
    expect(first.hops).toBeGreaterThan(1);
    const busy = agents.reduce((a, g) => a + g.snapshot.sessionsServed, 0);
    expect(busy).toBeGreaterThanOrEqual(2);

    // The coordinator goes away after the 5th token: the running session finishes peer to peer.
    let closing: Promise<void> | undefined;
    const second = await generate('c2', (i) => { if (i === 5) closing = server?.close(); });
    expect(second.ids).toEqual(ref);
    await closing;
    await until('volunteers to notice', () => agents.every((a) => !a.snapshot.coordinatorConnected));
    // It comes back on the same port: volunteers re-register with the blocks they hold and serve new requests.
    server = await startServer(port);
    await until('volunteers re-registered and serving', async () => {
      const s = await swarm(origin);
      return s.volunteers.length === 3 && s.volunteers.every((v) => v.state === 'serving') && s.placement.uncoveredBlocks.length === 0;
    });
    expect(agents.map((a) => a.snapshot.span)).toEqual(spans);
    const third = await generate('c3');
    expect(third.ids).toEqual(ref);

    await Promise.all(agents.map((a) => a.leave()));
    expect(agents.map((a) => a.snapshot.status)).toEqual(['offline', 'offline', 'offline']);
    await until('the registry to empty', async () => (await swarm(origin)).volunteers.length === 0);
  });

  it('the only holder of some blocks leaves mid-generation: another volunteer moves there, the client waits for it, the text is unchanged', async () => {
    await server?.close(); // the one the test before left running
    server = await startServer();
    const origin = server.url;
    const info = server.model.info;
    const net = new MemoryNetwork();
    // Three volunteers of three blocks each on 5 blocks: one alone holds the last blocks, one is redundant.
    const agents: VolunteerAgent[] = [];
    const transports = new Map<string, ReturnType<MemoryNetwork['createTransport']>>();
    for (const peerId of ['w1', 'w2', 'w3']) {
      transports.set(peerId, net.createTransport(peerId));
      const agent = new VolunteerAgent({
        transport: transports.get(peerId) ?? net.createTransport(peerId),
        coordinator: new WebSocketCoordinator({ origin, createSocket: (url) => new WebSocket(url), reconnectBaseMs: 50, reconnectMaxMs: 200 }),
        runtime: inThreadVolunteerRuntime(ort, weights, { threads: 1, fixedSpeed: { decodeMsPerBlock: 0.2, prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 0.2 } } }),
        memoryBytes: 2 * info.blockBytes + 12 * info.cacheBytesPerBlock,
        backend: 'wasm', modelId: info.id, hiddenSize: weights.shape.hiddenSize, drainTimeoutMs: 5_000,
      });
      agents.push(agent);
      await agent.start();
      await until(`${peerId} serving`, () => agent.snapshot.status === 'serving');
    }
    await until('the model covered', async () => (await swarm(origin)).placement.uncoveredBlocks.length === 0);
    const prompt = 'Once upon a time';
    const maxTokens = 40;
    const rt = await createInThreadRuntime(ort, weights, { blocks: { start: 0, end: weights.shape.numBlocks }, client: true, backends: ['wasm'], threads: 1, maxSessionTokens });
    const ref = (await generateText(rt, tokenizer, prompt, { maxNewTokens: maxTokens }).finally(() => rt.dispose())).ids;

    /** A volunteer that alone holds some block (it is on every route), and whose blocks' other holders can't replace it. */
    const soleHolder = (): VolunteerAgent | undefined =>
      agents.find((a) => {
        const span = a.snapshot.span;
        if (span === null || a.snapshot.status !== 'serving') return false;
        for (let b = span.start; b < span.end; b++) {
          if (!agents.some((o) => o !== a && o.snapshot.span !== null && o.snapshot.span.start <= b && b < o.snapshot.span.end)) return true;
        }
        return false;
      });
    const leaver = soleHolder();
    if (leaver === undefined) throw new Error(`every block has two holders (${agents.map((a) => JSON.stringify(a.snapshot.span)).join(' ')}): the test needs a sole holder`);

    const routes = new CoordinatorRoutes({ origin, clientId: 'c-sole', modelId: info.id });
    const failovers: FailoverRecord[] = [];
    const session = new ClientSession({
      transport: net.createTransport('c-sole'), routes, model: clientModelFromRuntime(clientRt, weights.shape, maxSessionTokens),
      onFailover: (f) => failovers.push(f),
    });
    let left: Promise<void> | undefined;
    const res = await session.generate(tokenizer.encode(prompt, { bos: true }), {
      maxNewTokens: maxTokens, sampler: samplerFor(greedyParams, 1), stopTokenIds: [tokenizer.bosId, ...tokenizer.eosIds],
      // Like a closed tab: its connections drop at once, then the coordinator hears it left.
      onToken: (t) => {
        if (t.index !== 5) return;
        transports.get(leaver.snapshot.peerId)?.close();
        left = leaver.leave();
      },
    }).finally(() => routes.dispose());
    await left;
    expect(res.ids).toEqual(ref);
    // The client failed over off the leaver onto a volunteer the coordinator moved there (no one else held those blocks).
    const f = failovers.find((x) => x.failedPeer === leaver.snapshot.peerId);
    expect(f).toBeDefined();
    expect(f?.replacement.length).toBeGreaterThan(0);
    const st = await swarm(origin);
    expect(st.placement.uncoveredBlocks).toEqual([]);
    expect(st.volunteers.map((v) => v.peerId)).not.toContain(leaver.snapshot.peerId);
    console.log(`sole holder ${leaver.snapshot.peerId} left at token 5: recovered in ${f?.recoveryMs.toFixed(0)} ms via ${f?.replacement.map((h) => `${h.peerId}[${h.span.start},${h.span.end})`).join(' ')}; ${failovers.length} failover(s)`);
    await Promise.all(agents.filter((a) => a !== leaver).map((a) => a.leave()));
  }, 120_000);

  it('drives its heartbeats from the ticker it is given, at the period the coordinator asks for, and stops it on leave', async () => {
    await server?.close();
    server = await startServer();
    const info = server.model.info;
    const ticks: number[] = [];
    let stopped = 0;
    const agent = new VolunteerAgent({
      transport: new MemoryNetwork().createTransport('ticked'),
      coordinator: new WebSocketCoordinator({ origin: server.url, createSocket: (url) => new WebSocket(url) }),
      runtime: inThreadVolunteerRuntime(ort, weights, { threads: 1, fixedSpeed: { decodeMsPerBlock: 0.2, prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 0.2 } } }),
      memoryBytes: 5 * info.blockBytes + 4 * info.cacheBytesPerBlock,
      backend: 'wasm', modelId: info.id, hiddenSize: weights.shape.hiddenSize,
      startTicker: (periodMs, tick) => {
        ticks.push(periodMs);
        const t = setInterval(tick, periodMs);
        return () => {
          stopped++;
          clearInterval(t);
        };
      },
    });
    await agent.start();
    await until('serving', () => agent.snapshot.status === 'serving');
    // The coordinator sets a 100 ms period: the heartbeats keep the volunteer registered through it.
    expect(ticks).toEqual([100]);
    const origin = server.url;
    await new Promise((r) => setTimeout(r, 500));
    expect((await swarm(origin)).volunteers.map((v) => v.peerId)).toEqual(['ticked']);
    await agent.leave();
    expect(stopped).toBe(1);
  });
});
