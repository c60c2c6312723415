// A Node swarm client: the tab's ClientSession (core/generation loop, CoordinatorRoutes, failover) with the embedding and LM head in-thread.
import * as ort from 'onnxruntime-web';
import { CoordinatorClient } from '../../core/api/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { ClientSession, CoordinatorRoutes, LinkPool, clientModelFromRuntime, type FailoverRecord, type GenerationResult } from '../../web/client/index.ts';
import {
  createInThreadRuntime, httpModelFiles, openTokenizer, samplerFor, stopTokenIdsOf, type BlockRuntime, type SamplingParams, type TextTokenizer,
} from '../../worker/index.ts';
import { openServedWeights } from './volunteer.ts';
import { RedialingTransport } from './retrying-transport.ts';
import { createNodeTransport } from './webrtc.ts';

/** Options of a Node swarm client. */
export interface NodeClientOptions {
  /** The coordinator's origin, e.g. http://127.0.0.1:8787. */
  origin: string;
  /** Model to chat with (default: the server's first). */
  modelId?: string;
}

/** One request through the swarm. */
export interface NodeGeneration {
  /** Prompt text (BOS first, as `bouquet generate`), or token ids. */
  prompt: string | number[];
  maxNewTokens: number;
  sampling: SamplingParams;
  seed: number;
  onText?: (piece: string, index: number) => void;
  onFailover?: (f: FailoverRecord) => void;
}

/** A started Node client. */
export interface NodeClient {
  readonly modelId: string;
  readonly tokenizer: TextTokenizer;
  readonly transport: RedialingTransport;
  /** Longest prompt + answer, tokens. */
  readonly maxSeqLen: number;
  generate(request: NodeGeneration): Promise<GenerationResult & { promptIds: number[] }>;
  close(): Promise<void>;
}

/** Loads the served model's client parts from the coordinator and joins its PeerJS swarm. */
export async function startNodeClient(options: NodeClientOptions): Promise<NodeClient> {
  const coordinator = new CoordinatorClient({ origin: options.origin });
  const { weights, modelId, maxSessionTokens, baseUrl } = await openServedWeights(coordinator, options.modelId);
  const shape = weights.shape;
  const tokenizer = await openTokenizer(httpModelFiles(baseUrl), shape);
  const maxSeqLen = Math.min(maxSessionTokens, shape.maxSeqLen);
  const runtime: BlockRuntime = await createInThreadRuntime(ort, weights, {
    client: true, backends: ['wasm'], threads: 1, maxSessionTokens: maxSeqLen, cacheBudgetBytes: 1 << 20,
  });
  const transport = new RedialingTransport(await createNodeTransport({ origin: options.origin }));
  const links = new LinkPool(transport);
  const routes = new CoordinatorRoutes({ origin: options.origin, clientId: transport.peerId, modelId, client: coordinator });
  const model = clientModelFromRuntime(runtime, shape, maxSeqLen);
  const stopTokenIds = stopTokenIdsOf(tokenizer);
  return {
    modelId, tokenizer, transport, maxSeqLen,
    async generate(request) {
      const promptIds = typeof request.prompt === 'string' ? tokenizer.encode(request.prompt, { bos: true }) : [...request.prompt];
      if (promptIds.length === 0) throw new BouquetError('bad-input', 'the prompt has no tokens');
      if (promptIds.length >= maxSeqLen) throw new BouquetError('sequence-too-long', `the prompt is ${promptIds.length} tokens, the swarm's sessions hold ${maxSeqLen}`);
      const session = new ClientSession({ transport, routes, model, links, ...(request.onFailover !== undefined ? { onFailover: request.onFailover } : {}) });
      const result = await session.generate(promptIds, {
        // As `bouquet generate`: the last sampled token is never fed back, so a full session still yields one more.
        maxNewTokens: Math.max(1, Math.min(request.maxNewTokens, maxSeqLen - promptIds.length + 1)),
        sampler: samplerFor(request.sampling, request.seed),
        stopTokenIds,
        decoder: tokenizer.streamDecoder(promptIds),
        ...(request.onText !== undefined ? { onText: request.onText } : {}),
      });
      return { ...result, promptIds };
    },
    async close() {
      routes.dispose();
      links.closeAll();
      transport.close();
      await runtime.dispose();
    },
  };
}
