// RouteProvider over the coordinator's REST API (through the one CoordinatorClient): route requests with the central queue's tickets, renewals, releases.
import {
  CoordinatorApiError, CoordinatorClient, maxTicketWaitMs,
  type AbortSignalLike, type FetchLike, type RouteGranted, type RouteQueued, type RouteRequest, type VerifyEvidence, type VerifyVerdict,
} from '../../core/api/index.ts';
import type { EvidenceSink } from './verify.ts';
import { PeerError } from '../../core/protocol/index.ts';
import type { MeasuredRequest, RouteAsk, RouteLease, RouteProvider } from './routes.ts';

/** Options of the REST route provider. */
export interface CoordinatorRoutesOptions {
  /** Server origin, e.g. http://127.0.0.1:8787. */
  origin: string;
  /** Stable id of this client tab (its peer id is fine). */
  clientId: string;
  /** Model the client loaded (checked by the coordinator). */
  modelId?: string;
  /** Longest a request may wait in the central queue, ms (default 120000). */
  maxQueueWaitMs?: number;
  fetchFn?: FetchLike;
  /** The coordinator client to use (default: one for `origin` over `fetchFn`). */
  client?: CoordinatorClient;
  /** Told each time a request is (still) queued: its 1-based position and the queue's length. */
  onQueued?: (position: number, queueLength: number) => void;
}

/**
 * Asks the coordinator for routes. A queued request is long-polled until granted. Leases are
 * renewed at half their length until released. Errors keep the coordinator's code ('no-route',
 * 'queue-full', 'infeasible', 'model-mismatch'…, as the CoordinatorApiError it was thrown as);
 * 'peer-unavailable' when the coordinator cannot be reached, 'aborted' when `signal` aborts,
 * 'bad-response' for an answer that does not parse (the CoordinatorClient's codes, unfolded).
 */
export class CoordinatorRoutes implements RouteProvider, EvidenceSink {
  private readonly renewals = new Map<string, ReturnType<typeof setInterval>>();
  /** Each lease's secret (release and renewal need it); only this client has it. */
  private readonly secrets = new Map<string, string>();
  private readonly client: CoordinatorClient;

  constructor(private readonly options: CoordinatorRoutesOptions) {
    this.client = options.client ?? new CoordinatorClient({ origin: options.origin, ...(options.fetchFn !== undefined ? { fetch: options.fetchFn } : {}) });
  }

  async requestRoute(ask: RouteAsk, signal?: AbortSignalLike): Promise<RouteLease> {
    const body: RouteRequest = {
      clientId: this.options.clientId,
      promptTokens: ask.promptTokens,
      maxNewTokens: ask.maxNewTokens,
      excludePeers: ask.excludePeers,
      span: ask.span,
    };
    if (ask.rttMs !== undefined) body.rttMs = ask.rttMs;
    if (ask.noQueue === true) body.noQueue = true;
    if (this.options.modelId !== undefined) body.modelId = this.options.modelId;
    const maxQueueWaitMs = this.options.maxQueueWaitMs ?? 120_000;
    let answer: RouteGranted | RouteQueued = await this.client.requestRoute(body, signal);
    const deadline = Date.now() + maxQueueWaitMs;
    while (answer.kind === 'queued') {
      this.options.onQueued?.(answer.position, answer.queueLength);
      const left = deadline - Date.now();
      if (left <= 0) throw new PeerError('no-route', `waited over ${maxQueueWaitMs} ms in the coordinator's queue`);
      answer = await this.client.pollTicket(answer.ticketId, Math.min(maxTicketWaitMs, left, 10_000), signal);
    }
    this.secrets.set(answer.leaseId, answer.leaseSecret);
    this.keepAlive(answer);
    const verify = answer.verify;
    return {
      leaseId: answer.leaseId, leaseToken: answer.leaseToken,
      // Which hops the client checks, and how often, the coordinator says (a volunteer cannot know which of its steps are compared).
      chain: answer.chain.map((h, i) => {
        const share = verify?.shares[i];
        const publicKey = verify?.publicKeys[i];
        return { peerId: h.peerId, span: h.span, ...(share !== undefined ? { verifyShare: share } : {}), ...(publicKey !== undefined && publicKey !== '' ? { publicKey } : {}) };
      }),
    };
  }

  /** Sends evidence of a mismatch to the coordinator (the verdict says whom it banned). */
  submitEvidence(evidence: Omit<VerifyEvidence, 'clientId'>): Promise<VerifyVerdict> {
    const body: VerifyEvidence = { ...evidence, clientId: this.options.clientId };
    if (this.options.modelId !== undefined) body.modelId = this.options.modelId;
    return this.client.submitEvidence(body);
  }

  async releaseRoute(leaseId: string, measured?: MeasuredRequest): Promise<void> {
    const t = this.renewals.get(leaseId);
    clearInterval(t);
    this.renewals.delete(leaseId);
    const leaseSecret = this.secrets.get(leaseId);
    this.secrets.delete(leaseId);
    if (leaseSecret === undefined) return; // not a lease of this client (or released already)
    await this.client.releaseRoute(leaseId, measured === undefined ? { leaseSecret } : { leaseSecret, measured }).catch((e: unknown) => {
      // An expired or unknown lease is already free; only an unreachable coordinator is worth a word.
      if (!(e instanceof CoordinatorApiError)) throw e;
    });
  }

  /** Stops renewing every lease (the tab is closing). */
  dispose(): void {
    for (const t of this.renewals.values()) clearInterval(t);
    this.renewals.clear();
    this.secrets.clear();
  }

  private keepAlive(g: RouteGranted): void {
    const every = Math.max(1000, g.leaseMs / 2);
    const timer = setInterval(() => {
      this.client.renewRoute(g.leaseId, g.leaseSecret).catch(() => undefined); // coordinator away: the session goes on peer to peer
    }, every);
    // Renewals must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    this.renewals.set(g.leaseId, timer);
  }
}
