// Two models in one swarm: VolunteerAgents with in-thread runtimes serve stories260K (HF layout) and a tiny random
// Llama (written here) behind one `createServer`; chats to both at once answer exactly what `bouquet generate` prints.
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import WebSocket from 'ws';
import { CoordinatorClient } from '../../../core/api/index.ts';
import { stopTokenIdsOf } from '../../../core/generation/index.ts';
import { MemoryNetwork } from '../../../core/protocol/index.ts';
import { ClientSession, CoordinatorRoutes, clientModelFromRuntime, samplerFor } from '../../../web/client/index.ts';
import { VolunteerAgent, WebSocketCoordinator, inThreadVolunteerRuntime } from '../../../web/volunteer/index.ts';
import { createServer, resolveModel, type BouquetServer } from '../../../server/index.ts';
import { createInThreadRuntime, type BlockRuntime } from '../../../worker/runtime/index.ts';
import { openTokenizer, type TextTokenizer } from '../../../worker/tokenizer/index.ts';
import { openModelWeights, type ModelWeights } from '../../../worker/weights/index.ts';
import { writeTinyFamily } from '../../worker/support/tiny-families.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const storiesDir = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K-hf');
const tinyId = 'tiny-llama';
const maxSessionTokens = 64;
const prompt = 'Once upon a time';
const maxTokens = 32;
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

interface Loaded { id: string; dir: string; weights: ModelWeights; tokenizer: TextTokenizer; client: BlockRuntime }

let tinyDir: string;
let server: BouquetServer | undefined;
const loaded: Loaded[] = [];
const agents: VolunteerAgent[] = [];

/** What `bouquet generate --json` prints for the prompt, greedy (the single-process reference). */
function bouquetGenerate(modelDir: string): { text: string; ids: number[] } {
  const r = spawnSync(process.execPath, [
    path.join(repoRoot, 'bin', 'bouquet.js'), 'generate', '--model', modelDir, '--prompt', prompt, '--max-tokens', String(maxTokens),
    '--temperature', '0', '--threads', '1', '--json',
  ], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`bouquet generate failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { text: string; ids: number[] };
}

async function load(id: string, dir: string): Promise<Loaded> {
  const model = await resolveModel(dir);
  const weights = await openModelWeights(model.files, model.layout);
  const tokenizer = await openTokenizer(model.files, weights.shape);
  const client = await createInThreadRuntime(ort, weights, { client: true, backends: ['wasm'], threads: 1, maxSessionTokens });
  return { id, dir, weights, tokenizer, client };
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  tinyDir = (await writeTinyFamily('llama-2')).dir;
  loaded.push(await load('stories260K-hf', storiesDir), await load(tinyId, tinyDir));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.leave(0)));
  await server?.close();
  for (const m of loaded) await m.client.dispose();
  await rm(tinyDir, { recursive: true, force: true });
});

describe('two models in one swarm', () => {
  it('volunteers pick their model, each model is split over its volunteers, and chats to both answer exactly as `bouquet generate`', async () => {
    server = await createServer({
      port: 0, model: [storiesDir, { path: tinyDir, modelId: tinyId }], logger: 'silent', modelSizing: { maxSessionTokens },
      coordinator: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 3000, placementDelayMs: 20, keyBoundPeerIds: false },
    });
    const origin = server.url;
    const coordinator = new CoordinatorClient({ origin });
    const net = new MemoryNetwork();
    // No volunteer yet: the first model is suggested (a tie); then each volunteer joins the one the server suggests.
    const picked: string[] = [];
    for (let i = 0; i < 4; i++) {
      const list = await coordinator.models();
      const id = list.suggestedModelId;
      picked.push(id);
      const m = loaded.find((l) => l.id === id);
      const info = list.models.find((c) => c.model.id === id)?.model;
      if (m === undefined || info === undefined) throw new Error(`suggested an unknown model ${id}`);
      const agent = new VolunteerAgent({
        transport: net.createTransport(`v${i}`),
        coordinator: new WebSocketCoordinator({ origin, createSocket: (url) => new WebSocket(url), reconnectBaseMs: 50, reconnectMaxMs: 200 }),
        runtime: inThreadVolunteerRuntime(ort, m.weights, { threads: 1, fixedSpeed: { decodeMsPerBlock: 0.2, prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 0.2 } } }),
        // Room for a little over half the blocks and a few sessions (less than one more block): each model needs both of its volunteers.
        memoryBytes: (Math.floor(info.numBlocks / 2) + 1) * info.blockBytes + Math.min(12, Math.floor((0.9 * info.blockBytes) / info.cacheBytesPerBlock)) * info.cacheBytesPerBlock,
        backend: 'wasm', modelId: id, hiddenSize: m.weights.shape.hiddenSize,
      });
      agents.push(agent);
      await agent.start();
      await until(`v${i} assigned`, async () => Promise.resolve(agent.snapshot.span !== null));
    }
    expect(picked).toEqual(['stories260K-hf', tinyId, 'stories260K-hf', tinyId]);
    await until('both models fully served', async () => (await coordinator.models()).models.every((c) => c.fullyServed && c.volunteers === 2));

    const expected = loaded.map((m) => bouquetGenerate(m.dir));
    expect(expected.every((e) => e.ids.length >= 16)).toBe(true);
    const chats = await Promise.all(loaded.map(async (m) => {
      const routes = new CoordinatorRoutes({ origin, clientId: `chat-${m.id}`, modelId: m.id });
      const session = new ClientSession({ transport: net.createTransport(`chat-${m.id}`), routes, model: clientModelFromRuntime(m.client, m.weights.shape, maxSessionTokens) });
      const promptIds = m.tokenizer.encode(prompt, { bos: true });
      try {
        return await session.generate(promptIds, {
          maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1), stopTokenIds: stopTokenIdsOf(m.tokenizer), decoder: m.tokenizer.streamDecoder(promptIds),
        });
      } finally {
        routes.dispose();
      }
    }));
    for (const [i, chat] of chats.entries()) {
      expect(chat.ids).toEqual(expected[i]?.ids);
      expect(chat.text).toBe(expected[i]?.text);
      expect(chat.route.length).toBe(2); // split over the model's two volunteers
    }
    // Each chat went through its own model's volunteers only.
    const byModel = await Promise.all(loaded.map(async (m) => (await coordinator.swarmState(undefined, m.id)).volunteers.map((v) => v.peerId).sort()));
    expect(byModel).toEqual([['v0', 'v2'], ['v1', 'v3']]);
    expect(chats.map((c) => c.route.map((h) => h.peerId).sort())).toEqual(byModel);
  }, 180_000); // ~15 s alone; generous for the shared build machines (50 s seen at load average 38)
});
