// The server's own swarm clients, one per served model, started on first use: the contract server/openai needs of tools/node-peer's client.
import { BouquetError, isBouquetError } from '../../core/errors/index.ts';
import type { AbortSignalLike } from '../../core/api/index.ts';
import type { GeneratedToken, StopReason } from '../../core/generation/index.ts';
import type { SamplingParams, TextTokenizer } from '../../worker/index.ts';

/**
 * One generation asked of a swarm client: the one generation request of the server's API and of the
 * Node client (tools/node-peer's NodeGeneration extends it with what a Node program may also watch).
 */
export interface SwarmTextRequest {
  /** Prompt text (BOS put first) or token ids as they are. */
  prompt: string | number[];
  maxNewTokens: number;
  sampling: SamplingParams;
  seed: number;
  onText?: (piece: string, index: number) => void;
  /** Called for each sampled token (its id; usage counts). */
  onToken?: (token: GeneratedToken) => void;
  /** Aborting ends the generation with code 'aborted' before its next step; its sessions close and its route is released. */
  signal?: AbortSignalLike;
  /**
   * Whom the answer is for (`key-<keyId>`, `addr-<hash>`: letters, digits, single '-'/'_', ≤ 64): the
   * client routes it under a client identity of that caller's own (a PeerJS id `<label>-<random>`), so
   * the coordinator's per-client caps and the dashboard's rows are per caller. Absent: the client's own.
   */
  onBehalfOf?: string;
}

/**
 * A swarm client as the API uses it: the embedding and LM head here, the blocks on volunteers over
 * WebRTC, routes from the coordinator, failover and the one generation loop (core/generation).
 * `bouquet serve` passes tools/node-peer's `startNodeClient` (server/ may not import tools/).
 */
export interface SwarmTextClient {
  readonly tokenizer: TextTokenizer;
  /** Longest prompt + answer, tokens. */
  readonly maxSeqLen: number;
  generate(request: SwarmTextRequest): Promise<{ ids: number[]; text: string; stopReason: StopReason; promptIds: number[] }>;
  close(): Promise<void>;
}

/** Starts a swarm client of `modelId` against the coordinator at `origin`. */
export type SwarmClientFactory = (origin: string, modelId: string) => Promise<SwarmTextClient>;

/** One client per model, started on first use and kept; a start that failed is tried again by the next request. */
export class SwarmClientPool {
  readonly #factory: SwarmClientFactory;
  readonly #origin: () => string;
  readonly #clients = new Map<string, Promise<SwarmTextClient>>();
  #closed = false;

  constructor(factory: SwarmClientFactory, origin: () => string) {
    this.#factory = factory;
    this.#origin = origin;
  }

  /** The client of `modelId`; rejects with the start's coded error (`peer-unavailable` for an uncoded one). */
  get(modelId: string): Promise<SwarmTextClient> {
    if (this.#closed) return Promise.reject(new BouquetError('closed', 'the server is shutting down'));
    let c = this.#clients.get(modelId);
    if (c === undefined) {
      c = this.#factory(this.#origin(), modelId).catch((e: unknown) => {
        this.#clients.delete(modelId);
        throw isBouquetError(e) ? e : new BouquetError('peer-unavailable', `the server's swarm client did not start: ${e instanceof Error ? e.message : String(e)}`);
      });
      this.#clients.set(modelId, c);
    }
    return c;
  }

  /** Closes every client started. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(all.map((c) => c.then((x) => x.close(), () => undefined)));
  }
}
