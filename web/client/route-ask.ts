// Asking the coordinator for a route with bounded, jittered retries, and checking that the chain it grants covers the span.
import { backoffDelayMs, type AbortSignalLike, type BackoffPolicy } from '../../core/api/index.ts';
import { BouquetError, isBouquetError } from '../../core/errors/index.ts';
import { PeerError, toPeerError } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { LinkPool } from './link-pool.ts';
import type { RouteAsk, RouteLease, RouteProvider } from './routes.ts';

/** Waits `ms` (nothing for ≤ 0), or rejects with 'aborted' when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(new BouquetError('aborted', 'generation aborted'));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new BouquetError('aborted', 'generation aborted'));
    }, { once: true });
  });
}

/** 0 before the first try, then the jittered backoff of retry `attempt − 1`, ms. */
export function retryBackoffMs(policy: BackoffPolicy, attempt: number): number {
  return attempt <= 0 ? 0 : backoffDelayMs(policy, attempt - 1);
}

/** What a route ask needs from its session. */
export interface RouteAskDeps {
  routes: RouteProvider;
  /** The links whose measured round trips go with each ask. */
  links: LinkPool;
  backoff: BackoffPolicy;
  routeRetries: number;
  signal: AbortSignalLike | undefined;
}

/**
 * Asks for a route, retrying 'no-route' (volunteers may be re-registering), 'queue-full' and
 * 'rate-limited' with backoff: `routeRetries` tries, then on until `waitMs` has passed since the first.
 */
export async function askRouteWithRetry(
  deps: RouteAskDeps,
  want: { span: BlockSpan; promptTokens: number; maxNewTokens: number; excluded: ReadonlySet<string> },
  attempt0: number,
  waitMs: number,
): Promise<RouteLease> {
  const { span } = want;
  let last: PeerError | undefined;
  const t0 = performance.now();
  let k = 0;
  // Bounded: the count, then the clock (each retry after the first few sleeps at least half of backoffMaxMs).
  for (; k < deps.routeRetries || performance.now() - t0 < waitMs; k++) {
    if (k > 0) await sleep(retryBackoffMs(deps.backoff, attempt0 + k), deps.signal);
    try {
      // The round trips measured so far go with the request (the coordinator routes this client by them).
      const ask: RouteAsk = { span, promptTokens: want.promptTokens, maxNewTokens: want.maxNewTokens, excludePeers: [...want.excluded] };
      const rttMs = deps.links.rtts.fresh();
      if (rttMs !== undefined) ask.rttMs = rttMs;
      deps.links.refreshRtts();
      const lease = await deps.routes.requestRoute(ask, deps.signal);
      checkChain(deps.routes, lease, span);
      return lease;
    } catch (err) {
      if (isBouquetError(err, 'aborted')) throw err;
      last = toPeerError(err, 'no-route');
      if (!['no-route', 'queue-full', 'rate-limited', 'infeasible', 'peer-unavailable', 'timeout'].includes(last.code)) throw last;
    }
  }
  throw new PeerError('no-route', `no route for blocks [${span.start}, ${span.end}) after ${k} tries: ${last?.message ?? ''}`);
}

/** Refuses (and releases) a granted chain that does not cover `span` in order: 'no-route'. */
function checkChain(routes: RouteProvider, lease: RouteLease, span: BlockSpan): void {
  let at = span.start;
  for (const hop of lease.chain) {
    if (hop.span.start !== at || hop.span.end <= hop.span.start) break;
    at = hop.span.end;
  }
  if (at !== span.end || lease.chain.length === 0) {
    void routes.releaseRoute(lease.leaseId).catch(() => undefined);
    throw new PeerError('no-route', `route ${JSON.stringify(lease.chain)} does not cover blocks [${span.start}, ${span.end}) in order`);
  }
}
