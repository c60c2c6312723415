// Wires the chat page's engine: embedding + LM head in a worker, tokenizer and chat template, ClientSession over PeerJS.
import { BouquetError } from '../../../core/errors/index.ts';
import { ClientSession, CoordinatorRoutes, LinkPool, clientModelFromRuntime, samplerFor, type GeneratedToken, type GenerationResult } from '../../client/index.ts';
import { PeerJsTransport } from '../../transport/index.ts';
import { HfTokenizer, httpModelFiles, openTokenizer, startWorkerRuntime } from '../../../worker/index.ts';
import { fetchServedModel } from '../shared/served-model.ts';
import type { ChatEngine, StartChat } from './chat-engine.ts';
import { encodeConversation } from './chat-prompt.ts';

function isAbort(e: unknown, signal: AbortSignal): boolean {
  return signal.aborted && e instanceof Error;
}

/** The page's StartChat. */
export const startChatInPage: StartChat = async (origin, onProgress): Promise<ChatEngine> => {
  onProgress('Asking the coordinator which model it serves…');
  const { info, source } = await fetchServedModel(origin);
  onProgress(`Loading ${info.id}'s embedding and LM head…`);
  const rt = await startWorkerRuntime(() => new Worker(new URL('../../../worker/block-worker.ts', import.meta.url), { type: 'module' }), {
    model: source,
    options: { client: true, backends: ['webgpu', 'wasm'], maxSessionTokens: info.maxSessionTokens },
    wasmPaths: '/ort/',
  });
  const shape = rt.initInfo.shape;
  onProgress('Loading the tokenizer…');
  const tokenizer = await openTokenizer(httpModelFiles(source.kind === 'url' ? source.baseUrl : origin), shape);
  onProgress('Connecting to the swarm…');
  const transport = await PeerJsTransport.create({ origin });
  const links = new LinkPool(transport);
  const routes = new CoordinatorRoutes({ origin, clientId: transport.peerId, modelId: info.id });
  const model = clientModelFromRuntime(rt, shape, info.maxSessionTokens);
  const hasChatTemplate = tokenizer instanceof HfTokenizer && tokenizer.chatTemplate !== null;
  const maxSeqLen = Math.min(info.maxSessionTokens, shape.maxSeqLen);

  return {
    modelId: info.id,
    maxSeqLen,
    hasChatTemplate,
    runtimeDescription: `${rt.initInfo.backend}${rt.initInfo.backend === 'wasm' ? `, ${rt.initInfo.threads} thread${rt.initInfo.threads === 1 ? '' : 's'}` : ''}`,
    encodeConversation: (turns) => encodeConversation(tokenizer, turns),
    streamDecoder: (context) => tokenizer.streamDecoder(context),
    async generate(promptIds, o): Promise<GenerationResult> {
      const s = o.settings;
      const maxNewTokens = Math.max(1, Math.min(s.maxNewTokens, maxSeqLen - promptIds.length));
      if (promptIds.length >= maxSeqLen) throw new BouquetError('sequence-too-long', `the conversation is ${promptIds.length} tokens, the model holds ${maxSeqLen}: clear it and start again`);
      const session = new ClientSession({
        transport,
        routes,
        model,
        links,
        onFailover: (f) => {
          o.onFailover(f);
          o.onRoute(session.route);
        },
      });
      const tokens: GeneratedToken[] = [];
      const started = performance.now();
      let firstTokenMs = 0;
      try {
        return await session.generate(promptIds, {
          maxNewTokens,
          sampler: samplerFor({ temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty }, s.seed),
          stopTokenIds: [tokenizer.bosId, ...tokenizer.eosIds],
          signal: o.signal,
          onToken: (t) => {
            if (t.index === 0) {
              firstTokenMs = performance.now() - started;
              o.onRoute(session.route);
            }
            tokens.push(t);
            o.onToken(t);
          },
        });
      } catch (e) {
        // Stopped by the person: keep what came (the session released its route already).
        if (!isAbort(e, o.signal)) throw e;
        return {
          ids: tokens.map((t) => t.id),
          route: session.route,
          failovers: [],
          ttftMs: firstTokenMs,
          perTokenMs: tokens.slice(1).map((t) => t.latencyMs),
          totalMs: performance.now() - started,
        };
      }
    },
    close(): void {
      links.closeAll();
      transport.close();
      void rt.terminate();
    },
  };
};
