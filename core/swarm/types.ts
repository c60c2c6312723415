// The planner's view of a swarm: servers, clients, network and workload, in the papers' symbols.
// Times are milliseconds, sizes bytes, blocks 0-based with exclusive ends unless a name says otherwise.

/** One volunteer (a "server" in the papers). */
export interface ServerSpec {
  /** Peer id. */
  id: string;
  /** M_j: bytes this server gives to weights + attention cache. */
  memoryBytes: number;
  /** τ_j: decode time per block per token, ms. */
  decodeMsPerBlock: number;
  /** τᴵ_j(l) = perTokenMs · l + fixedMs: prefill time per block for l input tokens, ms. */
  prefillMsPerBlock: LinearMs;
  /** Where it is (free text; scenarios use it to derive RTTs). */
  region?: string;
  /** PETALS' network_rps: tokens/s its link carries, as PETALS measures it; only PETALS reads it (∞ when absent). */
  networkRps?: number;
}

/** A linear cost a · l + b in ms for l tokens. */
export interface LinearMs {
  perTokenMs: number;
  fixedMs: number;
}

/** One place requests come from. */
export interface ClientSpec {
  id: string;
  region?: string;
  /** Share of the arrivals that come from this client (weights are normalized). Default 1. */
  weight?: number;
}

/** Network view in ms. */
export interface NetworkSpec {
  /** Round trip client → server, ms (without the per-message overhead). */
  clientServerRttMs: Record<string, Record<string, number>>;
  /** Round trip server → server, ms: only PETALS' router looks at it (it pings server to server). */
  serverServerRttMs?: Record<string, Record<string, number>>;
  /** Fixed cost of one decode message exchange (serialization, framing, scheduling), ms, same for every policy. */
  messageOverheadMs: number;
  /** Extra cost of the prefill message: perTokenMs · l_in + fixedMs, ms, same for every policy. */
  prefillOverheadMs: LinearMs;
  /**
   * c_c: per client, its own work per generated token (embedding, LM head, sampling, its event loop), ms;
   * the same for every chain, so it moves predicted times, not routes. A client absent here costs 0.
   */
  clientMsPerToken?: Record<string, number>;
}

/** What the model costs per block. */
export interface ModelWorkload {
  /** L: number of decoder blocks. */
  numBlocks: number;
  /** s_m: bytes of one block's weights. */
  blockBytes: number;
  /** s_c: bytes of one session's attention cache for one block at the maximum session length. */
  cacheBytesPerBlock: number;
  /** Hidden size (bytes per token on the wire derive from it); optional for abstract scenarios. */
  hiddenSize?: number;
  /** kv_dim = numKvHeads · headDim (< hiddenSize means GQA); PETALS' cache reserve uses it. Default hiddenSize. */
  kvDim?: number;
  /** Bytes of one cache value (2 for fp16/bf16); PETALS' cache reserve uses it. Default 2. */
  cacheBytesPerValue?: number;
}

/** The load the swarm is planned for. */
export interface WorkloadSpec {
  /** λ: mean arrival rate, requests per second. */
  arrivalRatePerS: number;
  /** Mean input (prompt) length, tokens. */
  meanInputTokens: number;
  /** Mean output length, tokens. */
  meanOutputTokens: number;
  /**
   * Mean declared length per request, prompt + declared maxNewTokens, tokens: what admission by
   * declared length reserves (bouquet plans its session capacity with it); absent: a whole slot.
   */
  meanDeclaredTokens?: number;
  /** R: concurrent requests to reserve cache for (BPRR's design knob); derived from λ when absent. */
  concurrentRequests?: number;
}

/**
 * How a volunteer serving k sessions at once steps: stepMs(k) = τ · (baseTaus + perSessionTaus · k)
 * per block, τ its single-session step time. Our runtime runs sessions' steps one after another:
 * (0, 1), measured by `npm run bench:contention` (docs/results.md "Contention").
 */
export interface ContentionSpec {
  /** a / τ: the part of a step that does not grow with sessions, in units of τ. */
  baseTaus: number;
  /** b / τ: what each concurrent session adds to a step, in units of τ. */
  perSessionTaus: number;
}

/** Everything a placement or routing policy may look at. Pure data. */
export interface SwarmSnapshot {
  model: ModelWorkload;
  servers: ServerSpec[];
  clients: ClientSpec[];
  network: NetworkSpec;
  workload: WorkloadSpec;
  /** Step time as a function of concurrent sessions, when the swarm's runtime has it measured; absent: concurrency costs memory, not time. */
  contention?: ContentionSpec;
}

/** A contiguous range of blocks, 0-based, `end` exclusive. */
export interface BlockSpan {
  start: number;
  end: number;
}

/** One hop of a chain: the server and the blocks it runs for this request. */
export interface Hop {
  serverId: string;
  span: BlockSpan;
}

/** A route through the swarm: hops in block order covering [0, L). */
export interface Chain {
  hops: Hop[];
}

/** Time of one request, split by cause, ms. */
export interface TimeBreakdown {
  computeMs: number;
  /** The t terms: round trips plus the per-message overheads (of which `overheadMs`). */
  transferMs: number;
  waitingMs: number;
  /** Of transferMs: the per-message overheads (decode messageOverheadMs and the prefill overhead per hop), ms. */
  overheadMs?: number;
  /** The client's own work, l_out · c_c (network.clientMsPerToken), ms; in totalMs beside the others. */
  clientMs?: number;
  totalMs: number;
}
