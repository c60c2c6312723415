// Test double (named as such): a tiny deterministic "model" whose blocks keep a per-session cache,
// for testing the protocol, session and failover logic without onnxruntime. Not a language model.
import type { HiddenStates } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { RuntimeError, type OpenSessionRequest, type SessionInfo, type SessionRuntime, type StepResult } from '../../worker/index.ts';
import type { ClientModel } from '../../web/client/index.ts';
import type { RouteAsk, RouteLease, RouteProvider } from '../../web/client/index.ts';
import { PeerError } from '../../core/protocol/index.ts';

/** Shape of the toy model. */
export interface ToyShape {
  numBlocks: number;
  hiddenSize: number;
  vocabSize: number;
  maxSeqLen: number;
}

export const toyShape: ToyShape = { numBlocks: 6, hiddenSize: 8, vocabSize: 24, maxSeqLen: 128 };

/** Pseudo-random but fixed embedding entry in [-1, 1). */
function emb(id: number, j: number): number {
  const v = Math.sin(id * 12.9898 + j * 78.233) * 43758.5453;
  return (v - Math.floor(v)) * 2 - 1;
}

function weight(block: number, i: number, j: number): number {
  return Math.sin(block * 1.3 + i * 0.7 + j * 1.9) * 0.6;
}

/** Block `b` on one row, given the running sum and count of the rows its cache holds (this row included). */
function blockRow(b: number, x: Float32Array, sum: Float64Array, count: number, d: number): Float32Array {
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    let self = 0;
    let ctx = 0;
    for (let j = 0; j < d; j++) {
      self += weight(b, i, j) * (x[j] ?? 0);
      ctx += weight(b + 17, j, i) * (sum[j] ?? 0) / count;
    }
    out[i] = 0.6 * (x[i] ?? 0) + Math.tanh(self) + 1.5 * Math.tanh(2 * ctx + 0.3 * count);
  }
  return out;
}

/** Per-session cache of one block: what attention would keep (here: running sums of inputs). */
interface ToyCache {
  sums: Float64Array[];
  count: number;
  maxLength: number;
}

/** Block runtime double (the session part of the BlockRuntime contract): runs blocks with a cache per session and a session limit. */
export class ToyExecutor implements SessionRuntime {
  private readonly sessions = new Map<string, { span: BlockSpan; cache: ToyCache }>();
  stepsRun = 0;
  /** Sessions the runtime itself admits at once (beyond the host's slot accounting), like a real KV pool. */
  constructor(private readonly shape: ToyShape = toyShape, private readonly runtimeCapacity = Infinity) {}

  openSession(req: OpenSessionRequest): Promise<SessionInfo> {
    if (this.sessions.size >= this.runtimeCapacity) return Promise.reject(new RuntimeError('cache-full', 'toy runtime is full'));
    const d = this.shape.hiddenSize;
    const { sessionId, blocks: span, maxLength } = req;
    const sums = Array.from({ length: span.end - span.start }, () => new Float64Array(d));
    this.sessions.set(sessionId, { span, cache: { sums, count: 0, maxLength } });
    const slots = span.end - span.start;
    return Promise.resolve({ sessionId, blocks: span, maxLength, slots, cacheTokenBlocks: slots * Math.ceil(maxLength / 16) });
  }

  step(sessionId: string, hidden: Float32Array): Promise<StepResult> {
    const s = this.sessions.get(sessionId);
    if (s === undefined) return Promise.reject(new RuntimeError('unknown-session', `toy: no session ${sessionId}`));
    this.stepsRun++;
    const d = this.shape.hiddenSize;
    const out = new Float32Array(hidden);
    const rows = hidden.length / d;
    for (let r = 0; r < rows; r++) {
      s.cache.count++;
      let x: Float32Array = out.slice(r * d, (r + 1) * d);
      for (let b = s.span.start; b < s.span.end; b++) {
        const sum = s.cache.sums[b - s.span.start] ?? new Float64Array(d);
        for (let j = 0; j < d; j++) sum[j] = (sum[j] ?? 0) + (x[j] ?? 0);
        x = blockRow(b, x, sum, s.cache.count, d);
      }
      out.set(x, r * d);
    }
    return Promise.resolve({ hidden: out, tokens: rows, length: s.cache.count, computeMs: 0 });
  }

  closeSession(sessionId: string): Promise<void> {
    this.sessions.delete(sessionId);
    return Promise.resolve();
  }

  get openSessions(): number {
    return this.sessions.size;
  }
}

/** Client side of the toy model: embedding and head. */
export class ToyClientModel implements ClientModel {
  readonly numBlocks: number;
  readonly hiddenSize: number;
  readonly maxSeqLen: number;
  constructor(private readonly shape: ToyShape = toyShape) {
    this.numBlocks = shape.numBlocks;
    this.hiddenSize = shape.hiddenSize;
    this.maxSeqLen = shape.maxSeqLen;
  }

  embed(ids: number[]): Promise<HiddenStates> {
    const d = this.shape.hiddenSize;
    const data = new Float32Array(ids.length * d);
    ids.forEach((id, r) => {
      for (let j = 0; j < d; j++) data[r * d + j] = emb(id, j);
    });
    return Promise.resolve({ rows: ids.length, cols: d, data });
  }

  head(hidden: HiddenStates): Promise<Float32Array> {
    const d = this.shape.hiddenSize;
    const row = hidden.data.subarray((hidden.rows - 1) * d, hidden.rows * d);
    const logits = new Float32Array(this.shape.vocabSize);
    for (let v = 0; v < logits.length; v++) {
      let acc = 0;
      // Token v reads the embedding of token (7v + 3) mod V: the next token is a permutation of the last, bent by the context.
      const u = (v * 7 + 3) % this.shape.vocabSize;
      for (let j = 0; j < d; j++) acc += emb(u, j) * (row[j] ?? 0);
      logits[v] = acc;
    }
    return Promise.resolve(logits);
  }
}

/** Single-process greedy generation with the toy model: the reference the swarm must match. */
export async function toyGenerate(prompt: number[], maxNewTokens: number, shape: ToyShape = toyShape): Promise<number[]> {
  const exec = new ToyExecutor(shape);
  const model = new ToyClientModel(shape);
  await exec.openSession({ sessionId: 'ref', blocks: { start: 0, end: shape.numBlocks }, maxLength: prompt.length + maxNewTokens });
  const run = async (input: HiddenStates): Promise<HiddenStates> => {
    const r = await exec.step('ref', input.data);
    return { rows: r.tokens, cols: shape.hiddenSize, data: r.hidden };
  };
  let h = await run(await model.embed(prompt));
  const out: number[] = [];
  for (;;) {
    const logits = await model.head(h);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if ((logits[i] ?? 0) > (logits[best] ?? 0)) best = i;
    out.push(best);
    if (out.length >= maxNewTokens) return out;
    h = await run(await model.embed([best]));
  }
}

/**
 * Route provider double (named as such): covers the asked span greedily with the first listed
 * volunteers not excluded, skipping ones the test marked gone. The real one is the coordinator's REST API.
 */
export class ListRouteProvider implements RouteProvider {
  readonly asks: RouteAsk[] = [];
  readonly released: string[] = [];
  private next = 1;
  constructor(readonly volunteers: { peerId: string; span: BlockSpan }[], private readonly gone = new Set<string>()) {}

  markGone(peerId: string): void {
    this.gone.add(peerId);
  }

  requestRoute(ask: RouteAsk): Promise<RouteLease> {
    this.asks.push(ask);
    const chain: { peerId: string; span: BlockSpan }[] = [];
    let at = ask.span.start;
    while (at < ask.span.end) {
      const v = this.volunteers.find((c) => !ask.excludePeers.includes(c.peerId) && !this.gone.has(c.peerId) && c.span.start <= at && c.span.end > at);
      if (v === undefined) return Promise.reject(new PeerError('no-route', `no volunteer serves block ${at}`));
      const end = Math.min(v.span.end, ask.span.end);
      chain.push({ peerId: v.peerId, span: { start: at, end } });
      at = end;
    }
    return Promise.resolve({ leaseId: `lease-${this.next++}`, chain });
  }

  releaseRoute(leaseId: string): Promise<void> {
    this.released.push(leaseId);
    return Promise.resolve();
  }
}
