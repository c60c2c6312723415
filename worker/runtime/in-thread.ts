// In-thread BlockRuntime: onnxruntime-web sessions for a block span (split lazily where sessions need it), KV cache, client parts.
import { reserveTokensFor, type KvCacheBudget } from '../../core/cache/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { blockBytes, type ModelShape } from '../../core/model/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { RuntimeError } from '../errors.ts';
import { blockIo, buildBlockRangeGraph, buildEmbeddingGraph, buildHeadGraph, clientIo, computeType, positionInputs, type BuiltGraph } from '../graph/index.ts';
import { releaseBuffers, toHalfArray, type BlockWeights, type ModelWeights } from '../weights/index.ts';
import type { ChosenBackend, Ort } from './backend.ts';
import { resolveRuntimeConfig, type RuntimeConfig } from './in-thread-config.ts';
import type { BlockRuntime, CacheUsage, OpenSessionRequest, RuntimeInfo, RuntimeOptions, SessionInfo, StepResult } from './types.ts';

type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type OrtTensor = InstanceType<Ort['Tensor']>;

/** One onnxruntime session over consecutive blocks. */
interface Segment {
  span: BlockSpan;
  session: OrtSession;
  weightBytes: number;
}

interface KvPair {
  key: OrtTensor;
  value: OrtTensor;
}

interface OpenSession {
  info: SessionInfo;
  /** Tokens in the cache. */
  length: number;
  /** Per absolute block index. */
  kv: Map<number, KvPair>;
}

/** Creates an in-thread runtime over `weights` with onnxruntime-web module `ort`. */
export async function createInThreadRuntime(ort: Ort, weights: ModelWeights, options: RuntimeOptions = {}): Promise<BlockRuntime> {
  const { backend, config, cache } = await resolveRuntimeConfig(ort, weights.shape, options);
  const rt = new InThreadRuntime(ort, weights, backend, config, cache);
  const blocks = config.blocks;
  if (blocks !== null) {
    // One onnxruntime session per at most maxSegmentBytes of weights: a protobuf model must stay under
    // 2 GiB, and smaller graphs keep the peak of JS copies during loading low.
    const perSegment = Math.max(1, Math.floor((options.maxSegmentBytes ?? 2 ** 30) / blockBytes(weights.shape, config.precision)));
    for (let start = blocks.start; start < blocks.end; start += perSegment) {
      await rt.loadSegment({ start, end: Math.min(blocks.end, start + perSegment) });
    }
  }
  if (options.client === true) await rt.loadClient();
  return rt;
}

class InThreadRuntime implements BlockRuntime {
  private segments: Segment[] = [];
  private readonly sessions = new Map<string, OpenSession>();
  private embedSession: OrtSession | null = null;
  private headSession: OrtSession | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly shape: ModelShape;
  private readonly type: 'float32' | 'float16';

  constructor(
    private readonly ort: Ort,
    private readonly weights: ModelWeights,
    private readonly backend: ChosenBackend,
    private readonly cfg: RuntimeConfig,
    /** Admission: every open session's reservation, in token blocks. */
    private readonly cache: KvCacheBudget,
  ) {
    this.shape = weights.shape;
    this.type = computeType(cfg.precision) === 'float16' ? 'float16' : 'float32';
  }

  /** Serializes work: one onnxruntime run at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async createSession(graph: BuiltGraph, keepOnDevice: string[] = []): Promise<OrtSession> {
    const opts: Parameters<Ort['InferenceSession']['create']>[1] = { executionProviders: this.backend.executionProviders, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
    // The weights reach onnxruntime as external data, straight from their arrays: no protobuf copy to parse.
    if (graph.externalData.length > 0) opts.externalData = graph.externalData;
    const session: Record<string, string> = {};
    // Prepacked MatMul weights are faster, but a second copy of every matrix in the wasm heap while loading.
    if (!this.cfg.prepackWeights) session.disable_prepacking = '1';
    const extra: Record<string, unknown> = { session };
    if (this.cfg.threadSpinning === false) extra.session = { ...session, intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } };
    opts.extra = extra;
    // On WebGPU the KV cache stays in GPU buffers between steps (no download/upload per token).
    if (this.backend.name === 'webgpu' && keepOnDevice.length > 0) opts.preferredOutputLocation = Object.fromEntries(keepOnDevice.map((n) => [n, 'gpu-buffer' as const]));
    return this.ort.InferenceSession.create(graph.bytes, opts);
  }

  async loadSegment(span: BlockSpan): Promise<void> {
    const read: BlockWeights[] = [];
    const graph = await this.segmentGraph(span, read);
    const kvNames = Array.from({ length: span.end - span.start }, (_, i) => [blockIo.presentKey(i), blockIo.presentValue(i)]).flat();
    const session = await this.createSession(graph, kvNames);
    // onnxruntime holds the weights now: the graph's arrays and the blocks as read are freed at once, not at a GC
    // that a worker idling between steps may not run (in a tab they otherwise stay resident, another 1× the weights).
    releaseBuffers([...graph.externalData.map((t) => t.data), ...read.flatMap((w) => Object.values(w).filter((v): v is Float32Array => ArrayBuffer.isView(v)))]);
    this.segments.push({ span, session, weightBytes: graph.weightBytes });
    this.segments.sort((a, b) => a.span.start - b.span.start);
  }

  /**
   * The segment's graph. Blocks are read one at a time as the builder reaches them, and each block's
   * weights as read are unreachable once it is built (the graph holds them in the layout it runs), so
   * neither they nor a second block's stack on the graph's arrays or on onnxruntime's copy.
   */
  private segmentGraph(span: BlockSpan, read: BlockWeights[]): Promise<BuiltGraph> {
    const reader = {
      count: span.end - span.start,
      read: async (i: number): Promise<BlockWeights> => {
        const w = await this.weights.block(span.start + i);
        read.push(w);
        return w;
      },
    };
    return buildBlockRangeGraph(this.shape, reader, { precision: this.cfg.precision, ops: this.cfg.ops, maxPositions: this.cfg.slotTokens, name: `blocks_${span.start}_${span.end}`, firstBlock: span.start, externalMinBytes: this.cfg.externalWeights ? undefined : Infinity, releaseInputs: true });
  }

  async loadClient(): Promise<void> {
    const s = this.shape;
    const emb = await this.weights.embedding();
    this.embedSession = await this.createSession(buildEmbeddingGraph(s, emb));
    const head = buildHeadGraph(s, await this.weights.finalNorm(), await this.weights.lmHead(), { precision: this.cfg.precision, ops: this.cfg.ops });
    this.headSession = await this.createSession(head);
  }

  /** Splits segments so that `at` is a boundary (sessions over sub-ranges run whole segments). */
  private async splitAt(at: number): Promise<void> {
    const seg = this.segments.find((s) => s.span.start < at && at < s.span.end);
    if (seg === undefined) return;
    // Cached keys/values made by this segment's session move to the CPU before that session is released.
    for (const open of this.sessions.values()) {
      for (const [b, kv] of open.kv) {
        if (b >= seg.span.start && b < seg.span.end) open.kv.set(b, { key: await this.toCpu(kv.key), value: await this.toCpu(kv.value) });
      }
    }
    this.segments = this.segments.filter((s) => s !== seg);
    await seg.session.release();
    await this.loadSegment({ start: seg.span.start, end: at });
    await this.loadSegment({ start: at, end: seg.span.end });
  }

  info(): Promise<RuntimeInfo> {
    return Promise.resolve({
      backend: this.backend.name,
      backendNotes: this.backend.notes,
      threads: this.backend.threads,
      shape: this.shape,
      blocks: this.cfg.blocks,
      client: this.embedSession !== null,
      precision: this.cfg.precision,
      ops: this.cfg.ops,
      weightBytes: this.segments.reduce((a, s) => a + s.weightBytes, 0),
      cache: this.usage(),
    });
  }

  private usage(): CacheUsage {
    let filled = 0;
    let device = 0;
    for (const s of this.sessions.values()) {
      for (const kv of s.kv.values()) {
        const bytes = tensorBytes(kv.key) + tensorBytes(kv.value);
        filled += bytes;
        if (kv.key.location !== 'cpu') device += bytes;
      }
    }
    const u = this.cache.usage();
    return {
      slotBytes: u.tokenBlocksPerSlot * this.cfg.tokenBlockBytes,
      slotTokens: this.cfg.slotTokens,
      totalSlots: u.totalSlots,
      usedSlots: u.usedSlots,
      freeSlots: u.freeSlots,
      tokenBlockBytes: this.cfg.tokenBlockBytes,
      totalTokenBlocks: u.totalTokenBlocks,
      usedTokenBlocks: u.usedTokenBlocks,
      freeTokenBlocks: u.freeTokenBlocks,
      reservedBytes: u.usedTokenBlocks * this.cfg.tokenBlockBytes,
      filledBytes: filled,
      deviceBytes: device,
      openSessions: this.sessions.size,
    };
  }

  cacheUsage(): Promise<CacheUsage> {
    return Promise.resolve(this.usage());
  }

  openSession(req: OpenSessionRequest): Promise<SessionInfo> {
    return this.exclusive(async () => {
      const loaded = this.cfg.blocks;
      if (loaded === null) throw new RuntimeError('not-loaded', 'this runtime serves no blocks (client-only)');
      if (typeof req.sessionId !== 'string' || req.sessionId === '') throw new RuntimeError('bad-input', 'sessionId must be a non-empty string');
      if (this.sessions.has(req.sessionId)) throw new RuntimeError('session-exists', `session '${req.sessionId}' is already open`);
      const { start, end } = req.blocks;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < loaded.start || end > loaded.end || start >= end) {
        throw new RuntimeError('bad-input', `blocks [${start}, ${end}) are not inside the served span [${loaded.start}, ${loaded.end})`);
      }
      if (!Number.isInteger(req.maxLength) || req.maxLength < 1) throw new RuntimeError('bad-input', `maxLength must be a positive integer (got ${req.maxLength})`);
      if (req.maxLength > this.cfg.slotTokens) {
        throw new RuntimeError('sequence-too-long', `maxLength ${req.maxLength} exceeds this runtime's slot length ${this.cfg.slotTokens} tokens`);
      }
      const slots = end - start;
      // Reserved by its declared length: its keys and values grow step by step up to it (step refuses more).
      const admitted = this.cache.admit(req.sessionId, slots, reserveTokensFor(req.maxLength, this.cfg.slotTokens, 'declared'));
      if (!admitted.ok) {
        const total = this.cache.usage().totalTokenBlocks;
        throw new RuntimeError(
          'cache-full',
          `session needs ${admitted.neededTokenBlocks} cache token blocks (${slots} blocks), ${admitted.freeTokenBlocks} of ${total} are free; retry later or use another peer`,
        );
      }
      try {
        await this.splitAt(start);
        await this.splitAt(end);
      } catch (e) {
        this.cache.free(req.sessionId);
        throw e;
      }
      const info: SessionInfo = { sessionId: req.sessionId, blocks: { start, end }, maxLength: req.maxLength, slots, cacheTokenBlocks: admitted.tokenBlocks };
      this.sessions.set(req.sessionId, { info, length: 0, kv: new Map() });
      return info;
    });
  }

  closeSession(sessionId: string): Promise<void> {
    return this.exclusive(() => {
      const s = this.sessions.get(sessionId);
      if (s === undefined) throw new RuntimeError('unknown-session', `no open session '${sessionId}'`);
      for (const kv of s.kv.values()) disposeKv(kv);
      this.sessions.delete(sessionId);
      this.cache.free(sessionId);
      return Promise.resolve();
    });
  }

  step(sessionId: string, hidden: Float32Array): Promise<StepResult> {
    return this.exclusive(async () => {
      const s = this.sessions.get(sessionId);
      if (s === undefined) throw new RuntimeError('unknown-session', `no open session '${sessionId}'`);
      const d = this.shape.hiddenSize;
      const T = checkHidden(hidden, d);
      if (s.length + T > s.info.maxLength) {
        throw new RuntimeError('sequence-too-long', `session '${sessionId}' holds ${s.length} tokens; ${T} more exceed its max length ${s.info.maxLength}`);
      }
      const P = s.length;
      const common = this.positionFeeds(P, T);
      const t0 = performance.now();
      let x = hidden;
      // New cache entries are staged and committed only when every segment ran (a failure changes nothing).
      const staged = new Map<number, KvPair>();
      try {
        for (const seg of this.segments) {
          if (seg.span.end <= s.info.blocks.start || seg.span.start >= s.info.blocks.end) continue;
          const feeds: Record<string, OrtTensor> = { ...common, [blockIo.hiddenIn]: new this.ort.Tensor('float32', x, [1, T, d]) };
          for (let b = seg.span.start; b < seg.span.end; b++) {
            const i = b - seg.span.start;
            const kv = s.kv.get(b) ?? this.emptyKv();
            feeds[blockIo.pastKey(i)] = kv.key;
            feeds[blockIo.pastValue(i)] = kv.value;
          }
          const out = await seg.session.run(feeds);
          for (let b = seg.span.start; b < seg.span.end; b++) {
            const i = b - seg.span.start;
            const key = out[blockIo.presentKey(i)];
            const value = out[blockIo.presentValue(i)];
            if (key === undefined || value === undefined) throw new BouquetError('internal', `graph returned no present KV for block ${b}`);
            staged.set(b, { key, value });
          }
          const h = out[blockIo.hiddenOut];
          if (h === undefined) throw new BouquetError('internal', 'graph returned no hidden_out');
          x = (await h.getData()) as Float32Array;
        }
      } catch (e) {
        for (const kv of staged.values()) disposeKv(kv);
        throw e;
      }
      for (const [b, kv] of staged) {
        const old = s.kv.get(b);
        s.kv.set(b, kv);
        if (old !== undefined) disposeKv(old);
      }
      s.length += T;
      return { hidden: x, tokens: T, length: s.length, computeMs: performance.now() - t0 };
    });
  }

  private async toCpu(t: OrtTensor): Promise<OrtTensor> {
    if (t.location === 'cpu') return t;
    const data = await t.getData(true);
    return new this.ort.Tensor(t.type as 'float32', data as Float32Array, t.dims);
  }

  private emptyKv(): KvPair {
    const dims = [1, this.shape.numKvHeads, 0, this.shape.headDim];
    const data = this.type === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    return { key: new this.ort.Tensor(this.type, data, dims), value: new this.ort.Tensor(this.type, data, dims) };
  }

  /** Inputs that carry positions (worker/graph's positionInputs: GroupQueryAttention lengths, or rotary tables and masks). */
  private positionFeeds(past: number, T: number): Record<string, OrtTensor> {
    const neg = this.type === 'float16' ? -65504 : -1e30;
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, input] of Object.entries(positionInputs(this.shape, this.cfg.ops, past, T, neg))) {
      const { data, dims } = input;
      feeds[name] = data instanceof Int32Array
        ? new this.ort.Tensor('int32', data, dims)
        : this.type === 'float16' ? new this.ort.Tensor('float16', toHalfArray(data), dims) : new this.ort.Tensor('float32', data, dims);
    }
    return feeds;
  }

  embed(ids: Int32Array): Promise<Float32Array> {
    return this.exclusive(async () => {
      const session = this.embedSession;
      if (session === null) throw new RuntimeError('not-loaded', 'this runtime has no client parts (open it with client: true)');
      if (!(ids instanceof Int32Array) || ids.length === 0) throw new RuntimeError('bad-input', 'embed() needs a non-empty Int32Array of token ids');
      const v = this.shape.vocabSize;
      for (const id of ids) if (id < 0 || id >= v) throw new RuntimeError('bad-input', `token id ${id} is outside the vocabulary [0, ${v})`);
      const out = await session.run({ [clientIo.ids]: new this.ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [ids.length]) });
      const e = out[clientIo.embeddings];
      if (e === undefined) throw new BouquetError('internal', 'embedding graph returned nothing');
      return (await e.getData()) as Float32Array;
    });
  }

  head(hidden: Float32Array): Promise<Float32Array> {
    return this.exclusive(async () => {
      const session = this.headSession;
      if (session === null) throw new RuntimeError('not-loaded', 'this runtime has no client parts (open it with client: true)');
      const N = checkHidden(hidden, this.shape.hiddenSize);
      const out = await session.run({ [clientIo.hidden]: new this.ort.Tensor('float32', hidden, [N, this.shape.hiddenSize]) });
      const l = out[clientIo.logits];
      if (l === undefined) throw new BouquetError('internal', 'head graph returned nothing');
      return (await l.getData()) as Float32Array;
    });
  }

  dispose(): Promise<void> {
    return this.exclusive(async () => {
      for (const [id, s] of this.sessions) {
        for (const kv of s.kv.values()) disposeKv(kv);
        this.cache.free(id);
      }
      this.sessions.clear();
      for (const s of this.segments) await s.session.release();
      this.segments = [];
      await this.embedSession?.release();
      await this.headSession?.release();
      this.embedSession = null;
      this.headSession = null;
    });
  }
}

/** Frees GPU buffers of a replaced cache entry (CPU tensors are garbage-collected). */
function disposeKv(kv: KvPair): void {
  if (kv.key.location !== 'cpu') kv.key.dispose();
  if (kv.value.location !== 'cpu') kv.value.dispose();
}

function tensorBytes(t: OrtTensor): number {
  return t.size * (t.type === 'float16' ? 2 : 4);
}

/**
 * Asserts the shape of hidden states [T, hidden] (a Float32Array of whole rows) and returns T. Values are
 * not scanned: activations from peers were validated once where they entered (decodeFrame: finite values,
 * shape; SessionHost: width, order, length), and the client's own are its runtime's output.
 */
function checkHidden(hidden: Float32Array, d: number): number {
  if (!(hidden instanceof Float32Array)) throw new RuntimeError('bad-input', 'hidden states must be a Float32Array');
  if (hidden.length === 0 || hidden.length % d !== 0) {
    throw new RuntimeError('bad-input', `hidden states hold ${hidden.length} values, not a whole number of rows of ${d}`);
  }
  return hidden.length / d;
}
