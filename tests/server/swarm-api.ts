// Test helpers over a test server's HTTP API and state: asking for routes, reading the swarm, waiting until volunteers serve.
import {
  apiPaths,
  parseRouteResponse,
  parseSwarmState,
  withModelId,
  type RouteGranted,
  type RouteResponse,
  type SwarmState,
} from '../../core/api/index.ts';
import type { BouquetServer } from '../../server/index.ts';
import { json, until } from './helpers.ts';

/** POSTs a route request (any body, valid or not) → the HTTP status and the parsed answer. */
export async function postRoute(s: BouquetServer, body: Record<string, unknown>): Promise<{ status: number; answer: RouteResponse }> {
  const r = await json(s.url + apiPaths.routes, { body });
  const parsed = parseRouteResponse(r.body);
  if (!parsed.ok) throw parsed.error;
  return { status: r.status, answer: parsed.value };
}

/** The answer to a route request. */
export async function askRoute(s: BouquetServer, body: Record<string, unknown>): Promise<RouteResponse> {
  return (await postRoute(s, body)).answer;
}

/** The route of an answer that must be one. */
export function granted(r: RouteResponse): RouteGranted {
  if (r.kind !== 'route') throw new Error(`expected a route, got ${JSON.stringify(r)}`);
  return r;
}

/** The public swarm state (of one model where the server serves several). */
export async function swarmState(s: BouquetServer, modelId?: string): Promise<SwarmState> {
  const parsed = parseSwarmState((await json(s.url + withModelId(apiPaths.swarm, modelId))).body);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

/**
 * Waits until placement has settled and every registered volunteer serves — `count` of them where given,
 * else at least one (an empty list is not "every one serving": volunteers that left make it); with
 * `withSpans`, each also holds a span (an idle volunteer reports serving with none).
 */
export async function servingAll(s: BouquetServer, options: { count?: number; timeoutMs?: number; withSpans?: boolean } = {}): Promise<void> {
  await s.coordinator.whenSettled();
  const what = options.count === undefined ? 'volunteers serving' : `${options.count} volunteers serving`;
  await until(() => {
    const vs = s.coordinator.state().volunteers;
    const enough = options.count === undefined ? vs.length > 0 : vs.length === options.count;
    return enough && vs.every((v) => v.state === 'serving' && (options.withSpans !== true || v.span !== null));
  }, options.timeoutMs ?? 5000, what);
}
