// The one generation loop on stories260K by both paths: `bouquet generate`'s (one runtime) and the client session's
// (a chain of volunteers over the in-memory transport) give the same greedy ids, and they spell the README's story.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { stopTokenIdsOf } from '../../../core/generation/index.ts';
import { FrameLink, MemoryNetwork } from '../../../core/protocol/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';
import { ClientSession, clientModelFromRuntime } from '../../../web/client/index.ts';
import { SessionHost } from '../../../web/volunteer/index.ts';
import { resolveModel } from '../../../server/models/index.ts';
import { createInThreadRuntime, generateText, type BlockRuntime } from '../../../worker/runtime/index.ts';
import { openTokenizer, type TextTokenizer } from '../../../worker/tokenizer/index.ts';
import { openModelWeights, type ModelWeights } from '../../../worker/weights/index.ts';
import { ListRouteProvider } from '../../support/toy-model.ts';

const maxSessionTokens = 256;
const maxNewTokens = 100;
let weights: ModelWeights;
let tokenizer: TextTokenizer;
const runtimes: BlockRuntime[] = [];

async function runtimeFor(blocks: BlockSpan | undefined, client: boolean): Promise<BlockRuntime> {
  const rt = await createInThreadRuntime(ort, weights, {
    ...(blocks !== undefined ? { blocks } : {}), client, backends: ['wasm'], threads: 1, maxSessionTokens, cacheBudgetBytes: 64 * 1024 * 1024,
  });
  runtimes.push(rt);
  return rt;
}

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

beforeAll(async () => {
  const model = await resolveModel('../shared/models/stories260K');
  weights = await openModelWeights(model.files, model.layout);
  tokenizer = await openTokenizer(model.files, weights.shape);
});

afterAll(async () => {
  for (const rt of runtimes) await rt.dispose();
});

describe('one generation loop, two paths (stories260K, greedy from BOS)', () => {
  it("gives the same ids through one runtime and through a chain of volunteers, and they read as the README's story", async () => {
    const readme = await readFile('../shared/models/stories260K/README.md', 'utf8');
    const story = squash(readme.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2)).join(' '));
    expect(story.startsWith('Once upon a time')).toBe(true);

    // `bouquet generate --temperature 0`: every block in one runtime, default sampler greedy.
    const streamed: string[] = [];
    const single = await generateText(await runtimeFor({ start: 0, end: weights.shape.numBlocks }, true), tokenizer, '', {
      maxNewTokens, onText: (p) => streamed.push(p),
    });
    expect(single.promptIds).toEqual([tokenizer.bosId]);
    expect(squash(single.text).startsWith(story)).toBe(true);
    expect(streamed.join('')).toBe(single.text);

    // The client session: embedding and head here, blocks on two volunteers.
    const net = new MemoryNetwork();
    const hosts: { peerId: string; span: BlockSpan }[] = [];
    for (const [peerId, span] of [['v1', { start: 0, end: 3 }], ['v2', { start: 3, end: weights.shape.numBlocks }]] as const) {
      const host = new SessionHost(await runtimeFor(span, false));
      host.setBlocks({ span, cacheSlots: 4, maxSessionTokens, hiddenSize: weights.shape.hiddenSize });
      net.createTransport(peerId).onConnection((c) => host.attach(new FrameLink(c)));
      hosts.push({ peerId, span });
    }
    const session = new ClientSession({
      transport: net.createTransport('client'), routes: new ListRouteProvider(hosts),
      model: clientModelFromRuntime(await runtimeFor(undefined, true), weights.shape, maxSessionTokens),
    });
    const swarm = await session.generate([tokenizer.bosId], {
      maxNewTokens, stopTokenIds: stopTokenIdsOf(tokenizer), decoder: tokenizer.streamDecoder([tokenizer.bosId]),
    });
    expect(swarm.ids).toEqual(single.ids);
    expect(swarm.text).toBe(single.text);
    expect(swarm.route.map((h) => h.peerId)).toEqual(['v1', 'v2']);
  });
});
