// Metrics of one run: per-token time (the papers' headline), TTFT, time per output token, response, waiting vs service, servers.
import { quantileOfSorted } from '../core/stats/index.ts';
import type { SimRequest } from './arrivals.ts';

// The metrics read only these fields of the engine's per-request and per-server records, so the
// engine depends on the metrics and not the other way round (no import cycle).

/** What the metrics read of one request's run (the engine's RequestRun has these and more). */
export interface RequestOutcome {
  req: Pick<SimRequest, 'arrivalMs' | 'outputTokens'>;
  /** Time of the first token, ms (null: none yet). */
  firstTokenMs: number | null;
  /** Time of the last token, ms (null: not finished). */
  endMs: number | null;
  /** Time being served, including replays, ms. */
  serviceMs: number;
  /** Time spent replaying after failovers, ms. */
  replayMs: number;
  retries: number;
  failovers: number;
}

/** What the metrics read of one server's accounting (the engine's ServerRun has these and more). */
export interface ServerUsage {
  spec: { id: string };
  slots: number;
  load: { freeSlots: number };
  /** ∫ slots held dt up to `lastChangeMs`, slot·ms. */
  slotMsIntegral: number;
  lastChangeMs: number;
  /** Compute time spent on sessions, ms. */
  busyMs: number;
}

/** Mean and percentiles of a sample, ms (NaN when empty). */
export interface Distribution {
  mean: number;
  p50: number;
  p95: number;
  p99: number;
}

/** One server's share of the run. */
export interface ServerMetrics {
  serverId: string;
  /** Compute time it spent on sessions / run length (sessions overlap: concurrency costs memory, not time, so this may exceed 1). */
  utilization: number;
  /** Time-average share of its cache slots held (0 when it has none). */
  cacheOccupancy: number;
}

/** What one run measured. Times in ms. */
export interface SimMetrics {
  requests: number;
  finished: number;
  /** Average time per output token, response / l_out (the papers' "per-token inference time"). */
  perTokenMs: Distribution;
  /** Time to first token: arrival → first token (waiting, retries and the prefill pass). */
  ttftMs: Distribution;
  /** Time per output token after the first: (end − first token) / (l_out − 1), over requests with l_out > 1. */
  tpotMs: Distribution;
  /** Response time: arrival → last token. */
  responseMs: Distribution;
  /** Time not being served (queueing, waiting for slots, backoff): response − service. */
  waitingMs: Distribution;
  /** Time being served, including replays after failover. */
  serviceMs: Distribution;
  /** Mean replay time per request after failovers. */
  replayMsMean: number;
  /** Failed admissions and reroutes per request (PETALS' retries, no-route backoffs). */
  retriesMean: number;
  /** Sessions lost to a volunteer leaving, in total. */
  failovers: number;
  /** Time of the last event, ms. */
  makespanMs: number;
  events: number;
  servers: ServerMetrics[];
}

function distribution(values: number[]): Distribution {
  if (values.length === 0) return { mean: NaN, p50: NaN, p95: NaN, p99: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => quantileOfSorted(sorted, q);
  let sum = 0;
  for (const v of values) sum += v;
  return { mean: sum / values.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** Summarizes a finished run (`nowMs` = time of the last event). */
export function summarize(requests: readonly RequestOutcome[], servers: readonly ServerUsage[], nowMs: number, events: number): SimMetrics {
  const perToken: number[] = [];
  const ttft: number[] = [];
  const tpot: number[] = [];
  const response: number[] = [];
  const waiting: number[] = [];
  const service: number[] = [];
  let replay = 0;
  let retries = 0;
  let failovers = 0;
  for (const r of requests) {
    retries += r.retries;
    failovers += r.failovers;
    if (r.endMs === null) continue;
    const resp = r.endMs - r.req.arrivalMs;
    response.push(resp);
    perToken.push(resp / r.req.outputTokens);
    const first = r.firstTokenMs ?? r.endMs;
    ttft.push(first - r.req.arrivalMs);
    if (r.req.outputTokens > 1) tpot.push((r.endMs - first) / (r.req.outputTokens - 1));
    service.push(r.serviceMs);
    waiting.push(resp - r.serviceMs);
    replay += r.replayMs;
  }
  const n = Math.max(1, requests.length);
  return {
    requests: requests.length,
    finished: response.length,
    perTokenMs: distribution(perToken),
    ttftMs: distribution(ttft),
    tpotMs: distribution(tpot),
    responseMs: distribution(response),
    waitingMs: distribution(waiting),
    serviceMs: distribution(service),
    replayMsMean: replay / n,
    retriesMean: retries / n,
    failovers,
    makespanMs: nowMs,
    events,
    servers: servers.map((s) => {
      const held = s.slotMsIntegral + (s.slots - s.load.freeSlots) * (nowMs - s.lastChangeMs);
      return {
        serverId: s.spec.id,
        utilization: nowMs > 0 ? s.busyMs / nowMs : 0,
        cacheOccupancy: nowMs > 0 && s.slots > 0 ? held / (s.slots * nowMs) : 0,
      };
    }),
  };
}
