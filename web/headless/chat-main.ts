// Headless chat page: a ClientSession over PeerJS, embedding + LM head in a worker; driven by tests and `bouquet demo` through window.bouquetChat.
import { FrameLink, Reassembler, decodeFrame, type Frame } from '../../core/protocol/index.ts';
import { openTokenizer, httpModelFiles, type TextTokenizer, startWorkerRuntime } from '../../worker/index.ts';
import { ClientSession, CoordinatorRoutes, LinkPool, clientModelFromRuntime, samplerFor, type FailoverRecord, type RouteHopSpec } from '../client/index.ts';
import { PeerJsTransport } from '../transport/index.ts';
import { backendsFromQuery, servedModel } from './model-source.ts';

/** What `generate` takes. */
export interface ChatRequest {
  prompt: string;
  maxNewTokens: number;
  /** 0 = greedy (default). */
  temperature?: number;
  topP?: number;
  seed?: number;
}

/** What `generate` answers (plain JSON). */
export interface ChatResult {
  text: string;
  ids: number[];
  route: RouteHopSpec[];
  failovers: FailoverRecord[];
  perTokenMs: number[];
  ttftMs: number;
  totalMs: number;
}

/** Error frames a raw probe got back. */
export interface RawProbeResult {
  replies: { type: Frame['type']; id: number; code?: string }[];
}

declare global {
  interface Window {
    bouquetChat?: {
      ready: boolean;
      error: string | null;
      peerId: string;
      backend: string;
      generate(req: ChatRequest): Promise<ChatResult>;
      /** Diagnostics for tests: sends raw packets to a peer and collects the frames it answers within `waitMs`. */
      probeRaw(peerId: string, packets: number[][], waitMs: number): Promise<RawProbeResult>;
      /** Benchmark: `n` pings and `n` one-token steps over block `block` of a peer; round trips in ms. */
      measureHop(peerId: string, block: number, n: number): Promise<{ pingMs: number[]; stepMs: number[] }>;
    };
    /** Set by a driver (playwright exposeFunction) to receive streamed text. */
    bouquetOnToken?: (piece: string, index: number, latencyMs: number) => void;
  }
}

const statusEl = document.getElementById('status');
const outputEl = document.getElementById('output');
const params = new URLSearchParams(location.search);
const chat: NonNullable<Window['bouquetChat']> = {
  ready: false,
  error: null,
  peerId: '',
  backend: '',
  generate: () => Promise.reject(new Error('chat is not ready')),
  probeRaw: () => Promise.reject(new Error('chat is not ready')),
  measureHop: () => Promise.reject(new Error('chat is not ready')),
};
window.bouquetChat = chat;

async function main(): Promise<void> {
  const origin = location.origin;
  const { info, source } = await servedModel(origin);
  const transport = await PeerJsTransport.create({ origin });
  const rt = await startWorkerRuntime(() => new Worker(new URL('../../worker/block-worker.ts', import.meta.url), { type: 'module' }), {
    model: source,
    options: { client: true, backends: backendsFromQuery(params), maxSessionTokens: info.maxSessionTokens },
    wasmPaths: '/ort/',
  });
  const shape = rt.initInfo.shape;
  const tokenizer: TextTokenizer = await openTokenizer(httpModelFiles(source.kind === 'url' ? source.baseUrl : origin), shape);
  const links = new LinkPool(transport);
  const routes = new CoordinatorRoutes({ origin, clientId: transport.peerId, modelId: info.id });
  const model = clientModelFromRuntime(rt, shape, info.maxSessionTokens);

  chat.peerId = transport.peerId;
  chat.backend = rt.initInfo.backend;
  chat.generate = async (req: ChatRequest): Promise<ChatResult> => {
    const promptIds = tokenizer.encode(req.prompt, { bos: true });
    const maxNewTokens = Math.min(req.maxNewTokens, info.maxSessionTokens - promptIds.length);
    const sampling = { temperature: req.temperature ?? 0, topK: 0, topP: req.topP ?? 1, repetitionPenalty: 1 };
    const decoder = tokenizer.streamDecoder(promptIds);
    let text = '';
    if (outputEl !== null) outputEl.textContent = '';
    const session = new ClientSession({ transport, routes, model, links });
    const res = await session.generate(promptIds, {
      maxNewTokens,
      sampler: samplerFor(sampling, req.seed ?? 1),
      stopTokenIds: [tokenizer.bosId, ...tokenizer.eosIds],
      onToken: (t) => {
        const piece = decoder.push(t.id);
        text += piece;
        if (outputEl !== null) outputEl.textContent = text;
        window.bouquetOnToken?.(piece, t.index, t.latencyMs);
      },
    });
    const tail = decoder.flush();
    text += tail;
    if (tail !== '') window.bouquetOnToken?.(tail, res.ids.length, 0);
    return { text, ids: res.ids, route: res.route, failovers: res.failovers, perTokenMs: res.perTokenMs, ttftMs: res.ttftMs, totalMs: res.totalMs };
  };
  chat.probeRaw = async (peerId: string, packets: number[][], waitMs: number): Promise<RawProbeResult> => {
    const conn = await transport.connect(peerId);
    const replies: RawProbeResult['replies'] = [];
    const r = new Reassembler();
    conn.onMessage((p) => {
      try {
        const bytes = r.accept(p);
        if (bytes === null) return;
        const f = decodeFrame(bytes);
        replies.push({ type: f.type, id: f.id, ...(f.type === 'error' ? { code: f.code } : {}) });
      } catch {
        replies.push({ type: 'error', id: -1, code: 'unreadable reply' });
      }
    });
    for (const p of packets) await conn.send(Uint8Array.from(p).buffer);
    await new Promise((res) => setTimeout(res, waitMs));
    conn.close();
    return { replies };
  };
  chat.measureHop = async (peerId: string, block: number, n: number): Promise<{ pingMs: number[]; stepMs: number[] }> => {
    const link = new FrameLink(await transport.connect(peerId));
    const pingMs: number[] = [];
    const stepMs: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await link.request<'ping'>({ type: 'ping', sentAtMs: t0 });
        pingMs.push(performance.now() - t0);
      }
      const sessionId = crypto.randomUUID();
      await link.request<'open-session'>({ type: 'open-session', sessionId, span: { start: block, end: block + 1 }, maxLength: n, dtype: 'fp32' });
      const d = shape.hiddenSize;
      for (let i = 0; i < n; i++) {
        const hidden = { rows: 1, cols: d, data: new Float32Array(d).fill(0.1) };
        const t0 = performance.now();
        await link.request<'step'>({ type: 'step', sessionId, stepIndex: i, position: i, dtype: 'fp32', hidden });
        stepMs.push(performance.now() - t0);
      }
      await link.request<'close'>({ type: 'close', sessionId });
    } finally {
      link.close();
    }
    return { pingMs, stepMs };
  };
  chat.ready = true;
  if (statusEl !== null) statusEl.textContent = `ready | peer ${transport.peerId} | ${rt.initInfo.backend} | model ${info.id}`;
}

main().catch((e: unknown) => {
  chat.error = e instanceof Error ? e.message : String(e);
  if (statusEl !== null) statusEl.textContent = `error: ${chat.error}`;
});
