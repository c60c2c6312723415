// RouteProvider over the coordinator's REST API: route requests (with the central queue's tickets), renewals, releases.
import {
  apiErrorFromWire, apiPaths, maxTicketWaitMs, parseJsonWith, parseRouteResponse, routeReleasePath, routeRenewPath, routeTicketPath,
  type RouteGranted, type RouteRequest, type RouteResponse,
} from '../../core/api/index.ts';
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
  fetchFn?: typeof fetch;
}

/**
 * Asks the coordinator for routes. A queued request is long-polled until granted. Leases are
 * renewed at half their length until released. Errors keep the coordinator's code ('no-route',
 * 'queue-full', 'infeasible', 'model-mismatch'…); 'peer-unavailable' when the coordinator cannot be
 * reached, 'aborted' when `signal` aborts, 'bad-request' for an answer that does not parse.
 */
export class CoordinatorRoutes implements RouteProvider {
  private readonly renewals = new Map<string, ReturnType<typeof setInterval>>();
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: CoordinatorRoutesOptions) {
    this.fetchFn = options.fetchFn ?? ((input, init) => fetch(input, init));
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
    let answer = await this.call('POST', apiPaths.routes, body, signal);
    const deadline = Date.now() + (this.options.maxQueueWaitMs ?? 120_000);
    while (answer.kind === 'queued') {
      const left = deadline - Date.now();
      if (left <= 0) throw new PeerError('no-route', `waited over ${this.options.maxQueueWaitMs ?? 120_000} ms in the coordinator's queue`);
      const waitMs = Math.min(maxTicketWaitMs, left, 10_000);
      answer = await this.call('GET', `${routeTicketPath(answer.ticketId)}?waitMs=${waitMs}`, undefined, signal);
    }
    // The coordinator's code arrives as it was (model-mismatch stays model-mismatch), as the class it was thrown as.
    if (answer.kind === 'error') throw apiErrorFromWire(answer.error);
    this.keepAlive(answer);
    return { leaseId: answer.leaseId, chain: answer.chain.map((h) => ({ peerId: h.peerId, span: h.span })) };
  }

  async releaseRoute(leaseId: string, measured?: MeasuredRequest): Promise<void> {
    const t = this.renewals.get(leaseId);
    clearInterval(t);
    this.renewals.delete(leaseId);
    const res = await this.fetchFn(new URL(routeReleasePath(leaseId), this.options.origin), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(measured === undefined ? {} : { measured }),
    });
    await res.body?.cancel();
  }

  /** Stops renewing every lease (the tab is closing). */
  dispose(): void {
    for (const t of this.renewals.values()) clearInterval(t);
    this.renewals.clear();
  }

  private keepAlive(g: RouteGranted): void {
    const every = Math.max(1000, g.leaseMs / 2);
    const timer = setInterval(() => {
      this.fetchFn(new URL(routeRenewPath(g.leaseId), this.options.origin), { method: 'POST' })
        .then((r) => r.body?.cancel())
        .catch(() => undefined); // coordinator away: the session goes on peer to peer
    }, every);
    // Renewals must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    this.renewals.set(g.leaseId, timer);
  }

  private async call(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<RouteResponse> {
    let res: Response;
    try {
      res = await this.fetchFn(new URL(path, this.options.origin), {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
        ...(signal !== undefined ? { signal } : {}),
      });
    } catch (e) {
      if (signal?.aborted === true) throw new PeerError('aborted', 'the route request was aborted');
      throw new PeerError('peer-unavailable', `coordinator at ${this.options.origin} unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    return unwrap(await res.text());
  }
}

function unwrap(text: string): RouteResponse {
  const parsed = parseJsonWith(text, parseRouteResponse);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}
