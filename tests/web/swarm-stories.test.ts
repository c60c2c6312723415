// The swarm in Node: volunteers with the real in-thread block runtime on stories260K behind SessionHosts,
// a ClientSession over the in-memory transport; output must equal single-process generation token for token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { FrameLink, MemoryNetwork, type MemoryTransport } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { ClientSession, clientModelFromRuntime, samplerFor } from '../../web/client/index.ts';
import { SessionHost } from '../../web/volunteer/index.ts';
import { resolveModel } from '../../server/models/index.ts';
import { createInThreadRuntime, generateText, type BlockRuntime } from '../../worker/runtime/index.ts';
import { openTokenizer, type TextTokenizer } from '../../worker/tokenizer/index.ts';
import { openModelWeights, type ModelWeights } from '../../worker/weights/index.ts';
import { ListRouteProvider } from '../support/toy-model.ts';

const modelDir = '../shared/models/stories260K';
const greedyParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };
const maxSessionTokens = 256;

let weights: ModelWeights;
let tokenizer: TextTokenizer;
let clientRt: BlockRuntime;
const runtimes: BlockRuntime[] = [];

async function runtimeFor(blocks: BlockSpan | undefined, client = false): Promise<BlockRuntime> {
  const rt = await createInThreadRuntime(ort, weights, {
    ...(blocks !== undefined ? { blocks } : {}), client, backends: ['wasm'], threads: 1, maxSessionTokens,
    cacheBudgetBytes: 64 * 1024 * 1024,
  });
  runtimes.push(rt);
  return rt;
}

async function reference(prompt: string, maxTokens: number): Promise<number[]> {
  const rt = await runtimeFor({ start: 0, end: weights.shape.numBlocks }, true);
  const r = await generateText(rt, tokenizer, { prompt, maxTokens, sampling: greedyParams, seed: 1 });
  return r.ids;
}

interface Vol { peerId: string; span: BlockSpan; transport: MemoryTransport; host: SessionHost }

async function volunteer(net: MemoryNetwork, peerId: string, span: BlockSpan): Promise<Vol> {
  const rt = await runtimeFor(span);
  const host = new SessionHost(rt);
  host.setBlocks({ span, cacheSlots: 40, maxSessionTokens, hiddenSize: weights.shape.hiddenSize });
  const transport = net.createTransport(peerId);
  transport.onConnection((c) => host.attach(new FrameLink(c)));
  return { peerId, span, transport, host };
}

beforeAll(async () => {
  const model = await resolveModel(modelDir);
  weights = await openModelWeights(model.files, model.layout);
  tokenizer = await openTokenizer(model.files, weights.shape);
  clientRt = await runtimeFor(undefined, true);
});

afterAll(async () => {
  for (const rt of runtimes) await rt.dispose();
});

describe('swarm on stories260K (in-memory transport, in-thread runtime)', () => {
  const prompt = 'Once upon a time';

  it('three volunteers generate exactly what one process generates; one leaving mid-way changes nothing', async () => {
    const maxTokens = 48;
    const expected = await reference(prompt, maxTokens);
    expect(expected.length).toBeGreaterThan(20);
    const net = new MemoryNetwork();
    const vs = [
      await volunteer(net, 'v1', { start: 0, end: 2 }),
      await volunteer(net, 'v2', { start: 2, end: 4 }),
      await volunteer(net, 'v3', { start: 4, end: 5 }),
      await volunteer(net, 'spare', { start: 2, end: 5 }),
    ];
    const shape = weights.shape;
    const stops = [tokenizer.bosId, ...tokenizer.eosIds];
    const promptIds = tokenizer.encode(prompt, { bos: true });
    const run = async (killAfter?: number): Promise<{ ids: number[]; failovers: number; route: string[] }> => {
      const routes = new ListRouteProvider(vs.map((v) => ({ peerId: v.peerId, span: v.span })));
      const session = new ClientSession({
        transport: net.createTransport(`client-${killAfter ?? 'none'}`), routes, model: clientModelFromRuntime(clientRt, shape, maxSessionTokens),
        prefillChunkTokens: 3,
      });
      const res = await session.generate(promptIds, {
        maxNewTokens: maxTokens, sampler: samplerFor(greedyParams, 1), stopTokenIds: stops,
        onToken: (t) => {
          if (t.index === killAfter) {
            routes.markGone('v2');
            vs[1]?.transport.close();
          }
        },
      });
      return { ids: res.ids, failovers: res.failovers.length, route: res.route.map((h) => h.peerId) };
    };
    const undisturbed = await run();
    expect(undisturbed).toEqual({ ids: expected, failovers: 0, route: ['v1', 'v2', 'v3'] });
    const disturbed = await run(10);
    expect(disturbed).toEqual({ ids: expected, failovers: 1, route: ['v1', 'spare', 'v3'] });
    expect(tokenizer.decode(disturbed.ids)).toBe(tokenizer.decode(expected));
  });
});
