// The one chat wiring of the Svelte chat page and the headless chat page: served model, worker runtime (embedding + LM head), tokenizer, PeerJS, client session, generation loop.
import { CoordinatorClient, maxFailureMessageLength, type FailureStage, type ModelInfo } from '../../core/api/index.ts';
import { BouquetError, isBouquetError } from '../../core/errors/index.ts';
import { stopTokenIdsOf, type GeneratedToken } from '../../core/generation/index.ts';
import type { ModelShape } from '../../core/model/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import {
  httpModelFiles, openTokenizer, samplerFor, startWorkerRuntime, type SamplingParams, type TextTokenizer, type WorkerRuntime,
} from '../../worker/index.ts';
import { fetchServedModel } from '../app/shared/served-model.ts';
import {
  ClientSession, CoordinatorRoutes, LinkPool, clientModelFromRuntime, maxMeasuredPeers, missingSpans, statusWords,
  type RequestStatus,
  type FailoverRecord, type GenerationResult, type RouteHopSpec,
} from '../client/index.ts';
import { PeerJsTransport } from '../transport/index.ts';

/** How to start a chat client. */
export interface ChatClientOptions {
  /** The coordinator's origin (the page's own). */
  origin: string;
  /** Backends to try for the embedding and LM head, in order. */
  backends: ('webgpu' | 'wasm')[];
  /** wasm threads of the embedding and LM head (default: the runtime's). */
  threads?: number;
  /** onnxruntime's idle pool threads spin-wait (default: the runtime's). */
  threadSpinning?: boolean;
  /** Progress in words, for a loading screen. */
  onProgress?: (text: string) => void;
  /** Model to chat with when the server serves several (default: its first). */
  modelId?: string;
}

/** One request to the swarm. */
export interface ChatGeneration {
  sampling: SamplingParams;
  seed: number;
  /** Most tokens to generate; cut to what the model still holds after the prompt. */
  maxNewTokens: number;
  /** Stopping resolves with what came (stopReason 'aborted'). */
  signal?: AbortSignal;
  onToken?: (token: GeneratedToken) => void;
  /** Non-empty pieces of decoded text; `index` is the token's, `ids.length` for the final flush. */
  onText?: (piece: string, index: number) => void;
  /** The chain in use: when the first token came and after each failover. */
  onRoute?: (route: RouteHopSpec[]) => void;
  onFailover?: (f: FailoverRecord) => void;
  /** A plain-language status whenever no token has come for `statusAfterMs` (10 s), then every 5 s until one does. */
  onStatus?: (text: string, status: RequestStatus) => void;
  /**
   * A turn of a conversation: the chain's sessions (and the volunteers' KV caches) stay open after it,
   * so that the next such turn whose prompt extends this one's tokens sends only the new ones
   * (ClientSession's keepSessions); `endConversation()` closes them.
   */
  keepSession?: boolean;
}

/**
 * A conversation's kept sessions end after this long without a turn, ms: the volunteers close idle
 * sessions after as long (SessionHost's default), and the route leases should not outlive them.
 */
export const conversationIdleMs = 120_000;

/** Silence after which a waiting request gets a status line, ms. */
export const statusAfterMs = 10_000;

/** A started chat client: the client parts of the model and the swarm behind them. */
export interface ChatClient {
  readonly info: ModelInfo;
  readonly shape: ModelShape;
  readonly tokenizer: TextTokenizer;
  readonly transport: PeerJsTransport;
  readonly runtime: WorkerRuntime;
  /** Longest prompt + answer, tokens. */
  readonly maxSeqLen: number;
  /** Where the client parts run (e.g. "wasm, 1 thread"). */
  readonly runtimeDescription: string;
  /** Generates after `promptIds` through the swarm with the one generation loop. */
  generate(promptIds: number[], request: ChatGeneration): Promise<GenerationResult>;
  /** Blocks no serving volunteer holds now (empty: a request can be routed); a failed check reads as covered. */
  missingBlocks(): Promise<BlockSpan[]>;
  /** Tells the coordinator why a request failed before it was sent (the coverage check). */
  reportFailure(e: unknown, stage?: FailureStage): void;
  /** Pings each of `peerIds` over this client's links (opening them; median of 3); the round trips, ms, go with the next route request. A peer that does not answer is left out. */
  measureRtts(peerIds: readonly string[]): Promise<Record<string, number>>;
  /** Closes a conversation's kept sessions (the next turn starts a fresh chain). */
  endConversation(): Promise<void>;
  close(): void;
}

/** Which stage a failed request's error belongs to (what the dashboard groups by). */
function failureStage(code: string): FailureStage {
  if (code === 'no-route' || code === 'queue-full' || code === 'infeasible' || code === 'unknown-ticket') return 'route';
  if (code === 'timeout' || code === 'peer-unavailable') return 'connect';
  return 'generate';
}

/** Tells the coordinator why a request failed (it logs it and the dashboard lists it); never throws. */
export function reportFailure(coordinator: CoordinatorClient, clientId: string, e: unknown, stage?: FailureStage): void {
  const code = isBouquetError(e) ? e.code : 'internal';
  const peerId = isBouquetError(e) && typeof e.data?.peerId === 'string' ? e.data.peerId : undefined;
  const reason = isBouquetError(e) && typeof e.data?.ice === 'string' ? e.data.ice : undefined;
  const message = (e instanceof Error ? e.message : String(e)).slice(0, maxFailureMessageLength);
  void coordinator.reportFailure({
    clientId, stage: stage ?? (reason !== undefined ? 'connect' : failureStage(code)), code, message, ...(peerId !== undefined ? { peerId } : {}), ...(reason !== undefined ? { reason } : {}),
  }).catch(() => undefined);
}

/** Starts the chat client of a page served by the coordinator at `options.origin`. */
export async function startChatClient(options: ChatClientOptions): Promise<ChatClient> {
  const { origin } = options;
  const progress = options.onProgress ?? (() => undefined);
  const coordinator = new CoordinatorClient({ origin });
  progress('Asking the coordinator which model it serves…');
  const { info, source } = await fetchServedModel(origin, coordinator, options.modelId);
  progress(`Loading ${info.id}'s embedding and LM head…`);
  const runtime = await startWorkerRuntime(() => new Worker(new URL('../../worker/block-worker.ts', import.meta.url), { type: 'module' }), {
    model: source,
    options: {
      client: true, backends: options.backends, maxSessionTokens: info.maxSessionTokens,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.threadSpinning !== undefined ? { threadSpinning: options.threadSpinning } : {}),
    },
    wasmPaths: '/ort/',
  });
  const shape = runtime.initInfo.shape;
  progress('Loading the tokenizer…');
  const tokenizer = await openTokenizer(httpModelFiles(source.kind === 'url' ? source.baseUrl : origin), shape);
  progress('Connecting to the swarm…');
  const transport = await PeerJsTransport.create({ origin });
  const links = new LinkPool(transport);
  // The queue position of the request in flight, for its status line.
  let queued: { position: number; queueLength: number } | null = null;
  const routes = new CoordinatorRoutes({
    origin, clientId: transport.peerId, modelId: info.id, client: coordinator,
    onQueued: (position, queueLength) => (queued = { position, queueLength }),
  });
  const missingBlocks = async (): Promise<BlockSpan[]> => missingSpans(await coordinator.swarmState()).slice(0, 16);
  const model = clientModelFromRuntime(runtime, shape, info.maxSessionTokens);
  const maxSeqLen = Math.min(info.maxSessionTokens, shape.maxSeqLen);
  const stopTokenIds = stopTokenIdsOf(tokenizer);
  const { backend, threads } = runtime.initInfo;
  // The conversation's session (keepSession turns), and the turn it reports failovers to.
  let conversation: ClientSession | null = null;
  let turn: ChatGeneration | null = null;
  let conversationTimer: ReturnType<typeof setTimeout> | undefined;
  const endConversation = async (): Promise<void> => {
    clearTimeout(conversationTimer);
    const c = conversation;
    conversation = null;
    await c?.close();
  };

  return {
    info, shape, tokenizer, transport, runtime, maxSeqLen,
    runtimeDescription: `${backend}${backend === 'wasm' ? `, ${threads} thread${threads === 1 ? '' : 's'}` : ''}`,
    async generate(promptIds, request): Promise<GenerationResult> {
      if (promptIds.length >= maxSeqLen) {
        throw new BouquetError('sequence-too-long', `the prompt is ${promptIds.length} tokens, the model holds ${maxSeqLen}: clear the conversation and start again`);
      }
      const keep = request.keepSession === true;
      const fresh = (): ClientSession => {
        const s: ClientSession = new ClientSession({
          transport, routes, model, links, keepSessions: keep,
          onFailover: (f) => {
            const r = keep ? turn : request;
            r?.onFailover?.(f);
            r?.onRoute?.(s.route);
          },
        });
        return s;
      };
      const session = keep ? (conversation ??= fresh()) : fresh();
      turn = keep ? request : turn;
      const tokens: GeneratedToken[] = [];
      let text = '';
      const started = performance.now();
      // No request waits silently: after statusAfterMs without a token, say where it stands.
      queued = null;
      let lastTokenAt = started;
      let nextStatusAt = started + statusAfterMs;
      const watchdog = setInterval(() => {
        const now = performance.now();
        if (request.onStatus === undefined || now < nextStatusAt) return;
        nextStatusAt = now + 5000;
        const waited = now - lastTokenAt;
        const q = queued;
        const replacing = session.replacing;
        void (q !== null || replacing !== null ? Promise.resolve<BlockSpan[]>([]) : missingBlocks().catch(() => [])).then((missing) => {
          const status: RequestStatus =
            q !== null ? { kind: 'queued', ...q }
            : replacing !== null ? { kind: 'replacing', ...replacing }
            : missing.length > 0 ? { kind: 'no-volunteer', missing } : { kind: 'connecting' };
          if (performance.now() - lastTokenAt >= statusAfterMs) request.onStatus?.(statusWords(status, waited), status);
        });
      }, 1000);
      try {
        return await session.generate(promptIds, {
          maxNewTokens: Math.max(1, Math.min(request.maxNewTokens, maxSeqLen - promptIds.length)),
          sampler: samplerFor(request.sampling, request.seed),
          stopTokenIds,
          decoder: tokenizer.streamDecoder(promptIds),
          ...(request.signal !== undefined ? { signal: request.signal } : {}),
          onToken: (t) => {
            lastTokenAt = performance.now();
            nextStatusAt = lastTokenAt + statusAfterMs;
            queued = null;
            if (t.index === 0) request.onRoute?.(session.route);
            tokens.push(t);
            request.onToken?.(t);
          },
          onText: (piece, index) => {
            text += piece;
            request.onText?.(piece, index);
          },
        });
      } catch (e) {
        // Stopped by the person: keep what came (the session released its route already).
        if (!isBouquetError(e, 'aborted')) {
          reportFailure(coordinator, transport.peerId, e);
          throw e;
        }
        const perTokenMs = tokens.slice(1).map((t) => t.latencyMs);
        const decodeMs = perTokenMs.reduce((a, b) => a + b, 0);
        return {
          ids: tokens.map((t) => t.id), text, stopReason: 'aborted', route: session.route, failovers: [], reusedTokens: 0,
          prefillMs: 0, ttftMs: tokens[0]?.latencyMs ?? 0, perTokenMs,
          tokensPerSecond: decodeMs > 0 ? (perTokenMs.length * 1000) / decodeMs : 0, totalMs: performance.now() - started,
        };
      } finally {
        clearInterval(watchdog);
        clearTimeout(conversationTimer);
        if (keep) conversationTimer = setTimeout(() => void endConversation(), conversationIdleMs);
      }
    },
    missingBlocks: () => missingBlocks().catch(() => []),
    reportFailure: (e, stage) => reportFailure(coordinator, transport.peerId, e, stage),
    async measureRtts(peerIds): Promise<Record<string, number>> {
      const measured = await Promise.all(peerIds.slice(0, maxMeasuredPeers).map((id) => links.measure(id, 3).then((ms) => [id, ms] as const, () => null)));
      return Object.fromEntries(measured.filter((m) => m !== null));
    },
    endConversation,
    close(): void {
      void endConversation();
      routes.dispose();
      links.closeAll();
      transport.close();
      void runtime.terminate();
    },
  };
}
