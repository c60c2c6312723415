// RouteProvider over the coordinator's REST API (through the one CoordinatorClient): route requests with the central queue's tickets, renewals, releases.
import {
  CoordinatorApiError, CoordinatorClient, maxTicketWaitMs,
  type FetchLike, type RouteGranted, type RouteQueued, type RouteRequest,
} from '../../core/api/index.ts';
import { isBouquetError } from '../../core/errors/index.ts';
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
}

/** The session's error for a coordinator failure: refusals that mean "nothing covers it" become 'no-route'. */
function asPeerError(e: unknown): PeerError {
  if (e instanceof CoordinatorApiError) {
    const code = e.code === 'no-route' || e.code === 'infeasible' || e.code === 'queue-full' ? 'no-route' : 'internal';
    return new PeerError(code, `coordinator: ${e.message} [${e.code}]`);
  }
  if (isBouquetError(e, 'peer-unavailable')) return new PeerError('peer-unavailable', e.message);
  if (isBouquetError(e, 'bad-response')) return new PeerError('internal', e.message);
  return e instanceof PeerError ? e : new PeerError('internal', e instanceof Error ? e.message : String(e));
}

/**
 * Asks the coordinator for routes. A queued request is long-polled until granted. Leases are
 * renewed at half their length until released. Errors: 'no-route' when nothing covers the span or
 * the queue is full, 'peer-unavailable' when the coordinator cannot be reached, 'aborted' when the
 * session's signal fired.
 */
export class CoordinatorRoutes implements RouteProvider {
  private readonly renewals = new Map<string, ReturnType<typeof setInterval>>();
  private readonly client: CoordinatorClient;

  constructor(private readonly options: CoordinatorRoutesOptions) {
    this.client = options.client ?? new CoordinatorClient({ origin: options.origin, ...(options.fetchFn !== undefined ? { fetch: options.fetchFn } : {}) });
  }

  async requestRoute(ask: RouteAsk, signal?: AbortSignal): Promise<RouteLease> {
    const body: RouteRequest = {
      clientId: this.options.clientId,
      promptTokens: ask.promptTokens,
      maxNewTokens: ask.maxNewTokens,
      excludePeers: ask.excludePeers,
      span: ask.span,
    };
    if (ask.rttMs !== undefined) body.rttMs = ask.rttMs;
    if (this.options.modelId !== undefined) body.modelId = this.options.modelId;
    const maxQueueWaitMs = this.options.maxQueueWaitMs ?? 120_000;
    let answer: RouteGranted | RouteQueued;
    try {
      answer = await this.client.requestRoute(body, signal);
      const deadline = Date.now() + maxQueueWaitMs;
      while (answer.kind === 'queued') {
        const left = deadline - Date.now();
        if (left <= 0) throw new PeerError('no-route', `waited over ${maxQueueWaitMs} ms in the coordinator's queue`);
        answer = await this.client.pollTicket(answer.ticketId, Math.min(maxTicketWaitMs, left, 10_000), signal);
      }
    } catch (e) {
      if (isBouquetError(e, 'aborted')) throw e;
      throw asPeerError(e);
    }
    this.keepAlive(answer);
    return { leaseId: answer.leaseId, chain: answer.chain.map((h) => ({ peerId: h.peerId, span: h.span })) };
  }

  async releaseRoute(leaseId: string, measured?: MeasuredRequest): Promise<void> {
    const t = this.renewals.get(leaseId);
    clearInterval(t);
    this.renewals.delete(leaseId);
    await this.client.releaseRoute(leaseId, measured === undefined ? {} : { measured }).catch((e: unknown) => {
      // An expired or unknown lease is already free; only an unreachable coordinator is worth a word.
      if (!(e instanceof CoordinatorApiError)) throw asPeerError(e);
    });
  }

  /** Stops renewing every lease (the tab is closing). */
  dispose(): void {
    for (const t of this.renewals.values()) clearInterval(t);
    this.renewals.clear();
  }

  private keepAlive(g: RouteGranted): void {
    const every = Math.max(1000, g.leaseMs / 2);
    const timer = setInterval(() => {
      this.client.renewRoute(g.leaseId).catch(() => undefined); // coordinator away: the session goes on peer to peer
    }, every);
    // Renewals must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    this.renewals.set(g.leaseId, timer);
  }
}
