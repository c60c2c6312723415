// The BlockRuntime contract: what a volunteer tab (blocks) and a client tab (embed/head) call, in-thread or through a worker.
import type { ModelShape, WeightPrecision } from '../../core/model/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { OpFlavour } from '../graph/index.ts';
import type { SpeedProbeOptions, SpeedProbeResult } from './speed-probe.ts';

/** Execution providers, tried in the order given. */
export type BackendName = 'webgpu' | 'wasm';

/** How to build a runtime. */
export interface RuntimeOptions {
  /** Blocks this runtime serves, 0-based, end exclusive; absent for a client-only runtime. */
  blocks?: BlockSpan;
  /** Load the client parts (token embedding, final norm + LM head). */
  client?: boolean;
  /**
   * Weight precision of the blocks and the head (default fp32). 'auto': fp16 on WebGPU when the adapter
   * has shader-f16, else fp32 (info().precision says which).
   */
  precision?: WeightPrecision | 'auto';
  /** Operator flavour (default 'contrib'). */
  ops?: OpFlavour;
  /**
   * Bytes set aside for KV cache, counted in token blocks of 16 tokens per model block
   * (core/cache; `cacheBudgetBytes` there sizes it for a number of slots). Default: 8 slots.
   */
  cacheBudgetBytes?: number;
  /** Slot length in tokens (l_in_max + l_out_max): the longest session; default min(model max, 2048). */
  maxSessionTokens?: number;
  /** Execution providers in priority order (default ['webgpu', 'wasm']). */
  backends?: BackendName[];
  /** wasm threads (default: 1 in a browser, where tabs of one machine share its cores; up to 4 in Node). */
  threads?: number;
  /**
   * Let onnxruntime's idle pool threads spin-wait for the next op (default: false in a browser, true in Node). Tabs on one machine take
   * turns along a chain; a pool that spins while its tab waits steals the cores the computing tab needs.
   */
  threadSpinning?: boolean;
  /**
   * Let onnxruntime prepack MatMul weights (default true): faster steps (decode 1.3–1.6× in
   * docs/results.md, "Tab memory") for a second copy of every matrix in the wasm heap during loading.
   */
  prepackWeights?: boolean;
  /**
   * Hand onnxruntime the blocks' weights as external data (default true), so loading does not also
   * hold them in a protobuf and its parsed copy; false only to measure the difference.
   */
  externalWeights?: boolean;
  /**
   * Most weight bytes in one onnxruntime session (default 1 GiB; an inline ONNX protobuf must stay under 2 GiB,
   * and one segment's weights are what loading holds twice at its peak):
   * a larger span is served by consecutive sessions, transparently to callers.
   */
  maxSegmentBytes?: number;
}

/** A client asks a volunteer for a session over some of its blocks. */
export interface OpenSessionRequest {
  /** Chosen by the client; unique among this runtime's open sessions. */
  sessionId: string;
  /** Blocks the session runs here: inside the runtime's loaded span. */
  blocks: BlockSpan;
  /**
   * Most tokens (prompt + generated) the session will hold, its declared length; at most the slot
   * length. The runtime reserves ⌈maxLength / 16⌉ token blocks per block for it (not a whole slot)
   * and refuses a step past it with 'sequence-too-long'.
   */
  maxLength: number;
}

/** An open session. */
export interface SessionInfo {
  sessionId: string;
  blocks: BlockSpan;
  maxLength: number;
  /** Cache slots it holds: one per block. */
  slots: number;
  /** Cache token blocks reserved for it: blocks × ⌈maxLength / 16⌉ (core/cache, reservation by declared length). */
  cacheTokenBlocks: number;
}

/** The result of one step over a session's blocks. */
export interface StepResult {
  /** Hidden states after the session's last block, [T, hidden] row-major. */
  hidden: Float32Array;
  /** Tokens processed by this step (T). */
  tokens: number;
  /** Tokens in the session's cache after the step. */
  length: number;
  /** Time spent in onnxruntime for this step, ms. */
  computeMs: number;
}

/**
 * KV-cache accounting, in token blocks (16 tokens of one model block's keys and values, core/cache) and
 * in slots (slot = one session's cache for one block at the slot length, s_c in the papers).
 */
export interface CacheUsage {
  /** s_c: bytes of one slot (its token blocks). */
  slotBytes: number;
  /** Slot length in tokens. */
  slotTokens: number;
  /** n_j: whole slots the budget holds. */
  totalSlots: number;
  /** totalSlots − freeSlots. */
  usedSlots: number;
  /** Whole slots still free. */
  freeSlots: number;
  /** Bytes of one token block. */
  tokenBlockBytes: number;
  /** Token blocks the budget holds, reserved by open sessions, and free. */
  totalTokenBlocks: number;
  usedTokenBlocks: number;
  freeTokenBlocks: number;
  /** Bytes reserved by open sessions (usedTokenBlocks · tokenBlockBytes). */
  reservedBytes: number;
  /** Bytes actually filled by cached keys/values now. */
  filledBytes: number;
  /** Of filledBytes, those held in GPU buffers (WebGPU keeps the cache on the device between steps). */
  deviceBytes: number;
  openSessions: number;
}

/** What a runtime runs and holds. */
export interface RuntimeInfo {
  backend: BackendName;
  /** Failures of the backends tried before this one (empty when the first worked). */
  backendNotes: string[];
  threads: number;
  shape: ModelShape;
  blocks: BlockSpan | null;
  client: boolean;
  precision: WeightPrecision;
  ops: OpFlavour;
  /** Bytes of block weights in their served precision (s_m · blocks). */
  weightBytes: number;
  cache: CacheUsage;
}

/**
 * The block runtime: the one contract of a volunteer's (and a client's) runtime. Two implementations:
 * in-thread (`createInThreadRuntime`: Node tests, the worker itself) and a Comlink proxy to
 * `worker/block-worker.ts` (`createWorkerRuntime`: the page), which is this contract plus
 * {@link WorkerRuntimeExtras} and `terminate`. Errors are RuntimeError with a code on both.
 * Buffers passed in are taken over (transferred through a worker); buffers returned are the caller's.
 * Inputs are trusted: peer frames are validated where they enter (core/protocol's decodeFrame and the
 * volunteer's SessionHost); the runtime asserts shapes only, it does not scan values again.
 */
export interface BlockRuntime {
  info(): Promise<RuntimeInfo>;
  /**
   * Opens a session, reserving its KV cache in token blocks of its declared length (core/cache); the
   * cached keys and values then grow with the tokens it holds, up to that length. RuntimeError
   * 'cache-full' when the token blocks are not free, 'session-exists', 'bad-input', 'sequence-too-long'.
   */
  openSession(req: OpenSessionRequest): Promise<SessionInfo>;
  /**
   * Runs T tokens' hidden states [T, hidden] through the session's blocks (prefill T ≥ 1, decode T = 1).
   * Values must be finite (validated at the boundary); a partial row or a wrong array type is 'bad-input'.
   */
  step(sessionId: string, hidden: Float32Array): Promise<StepResult>;
  /** Frees the session's slots ('unknown-session' if not open). */
  closeSession(sessionId: string): Promise<void>;
  cacheUsage(): Promise<CacheUsage>;
  /** Client side: token ids → embeddings [N, hidden]. */
  embed(ids: Int32Array): Promise<Float32Array>;
  /** Client side: hidden [N, hidden] → logits [N, vocab] (final norm + LM head). */
  head(hidden: Float32Array): Promise<Float32Array>;
  /** Releases every session and onnxruntime session. */
  dispose(): Promise<void>;
}

/** The part of the contract that serves sessions: all a volunteer's SessionHost calls (test doubles implement just this). */
export type SessionRuntime = Pick<BlockRuntime, 'openSession' | 'step' | 'closeSession'>;

/** What a runtime in a worker adds to the contract: the join-time speed probe and the weight cache's counters. */
export interface WorkerRuntimeExtras {
  /** The speed probe on this worker's backend choice (random weights of `shape`). */
  probeSpeed(shape: ModelShape, opts?: SpeedProbeOptions): Promise<SpeedProbeResult>;
  /** IndexedDB hits/misses of weight reads since the worker started. */
  weightCacheStats(): Promise<{ hits: number; misses: number }>;
}
