// Headless chat page: the one chat wiring (web/chat) with its state on window.bouquetChat, driven by tests and `bouquet demo`.
import { FrameLink, Reassembler, decodeFrame } from '../../core/protocol/index.ts';
import { startChatClient } from '../chat/index.ts';
import { backendsFromQuery } from './model-source.ts';
import type { ChatHandle, ChatRequest, ChatResult, HeadlessGlobals, HopMeasurement, RawProbeResult } from './handles.ts';

// The handles on window, for drivers whose libs include DOM (tests/); Node drivers read them through HeadlessGlobals.
declare global {
  interface Window {
    bouquetChat?: ChatHandle;
    bouquetOnToken?: HeadlessGlobals['bouquetOnToken'];
  }
}

const statusEl = document.getElementById('status');
const outputEl = document.getElementById('output');
const params = new URLSearchParams(location.search);
const chat: ChatHandle = {
  ready: false,
  error: null,
  peerId: '',
  backend: '',
  generate: () => Promise.reject(new Error('chat is not ready')),
  probeRaw: () => Promise.reject(new Error('chat is not ready')),
  measureHop: () => Promise.reject(new Error('chat is not ready')),
  candidatePairs: () => Promise.resolve([]),
  measureRtts: () => Promise.reject(new Error('chat is not ready')),
};
window.bouquetChat = chat;

async function main(): Promise<void> {
  // `?model=<id>` chats with that model when the server serves several (default: its first).
  const modelId = params.get('model');
  const client = await startChatClient({
    origin: location.origin, backends: backendsFromQuery(params),
    ...(modelId !== null ? { modelId } : {}),
    ...(params.get('threads') !== null ? { threads: Number(params.get('threads')) } : {}),
    ...(params.get('spin') !== null ? { threadSpinning: params.get('spin') !== '0' } : {}),
  });
  const { transport, tokenizer, shape, info } = client;

  chat.peerId = transport.peerId;
  chat.backend = client.runtime.initInfo.backend;
  chat.generate = async (req: ChatRequest): Promise<ChatResult> => {
    let text = '';
    if (outputEl !== null) outputEl.textContent = '';
    const res = await client.generate(tokenizer.encode(req.prompt, { bos: true }), {
      sampling: { temperature: req.temperature ?? 0, topK: 0, topP: req.topP ?? 1, repetitionPenalty: 1 },
      seed: req.seed ?? 1,
      maxNewTokens: req.maxNewTokens,
      // Every token reaches the driver (with '' mid-character): `bouquet demo` counts them to close a tab.
      onToken: (t) => {
        text += t.text;
        if (outputEl !== null) outputEl.textContent = text;
        window.bouquetOnToken?.(t.text, t.index, t.latencyMs);
      },
    });
    // What the decoder still held at the end (a pending character).
    const tail = res.text.slice(text.length);
    if (tail !== '') window.bouquetOnToken?.(tail, res.ids.length, 0);
    return { text: res.text, ids: res.ids, route: res.route, failovers: res.failovers, perTokenMs: res.perTokenMs, ttftMs: res.ttftMs, totalMs: res.totalMs,
      ...(res.verification !== undefined ? { verification: res.verification } : {}), ...(res.clientMsPerToken !== undefined ? { clientMsPerToken: res.clientMsPerToken } : {}) };
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
  chat.measureHop = async (peerId: string, block: number, n: number, steps = n): Promise<HopMeasurement> => {
    const link = new FrameLink(await transport.connect(peerId));
    const pingMs: number[] = [];
    const stepMs: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await link.request<'ping'>({ type: 'ping', sentAtMs: t0 });
        pingMs.push(performance.now() - t0);
      }
      if (steps === 0) return { pingMs, stepMs };
      const sessionId = crypto.randomUUID();
      await link.request<'open-session'>({ type: 'open-session', sessionId, span: { start: block, end: block + 1 }, maxLength: steps, dtype: 'fp32' });
      const d = shape.hiddenSize;
      for (let i = 0; i < steps; i++) {
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
  chat.candidatePairs = () => transport.candidatePairs();
  chat.measureRtts = (peerIds: string[]) => client.measureRtts(peerIds);
  chat.ready = true;
  if (statusEl !== null) statusEl.textContent = `ready | peer ${transport.peerId} | ${chat.backend} | model ${info.id}`;
}

main().catch((e: unknown) => {
  chat.error = e instanceof Error ? e.message : String(e);
  if (statusEl !== null) statusEl.textContent = `error: ${chat.error}`;
});
