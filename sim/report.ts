// Compare reports: per-policy means over runs with Student-t 95 % intervals, load vs capacity, a markdown file and SVG bar charts.
import type { SimResult } from './engine.ts';
import type { SwarmSnapshot } from '../core/swarm/index.ts';
import type { PlacementResult } from '../core/placement/index.ts';
import { allocateCache } from '../core/chains/index.ts';
import { jobLinkCostMs, serverJobCosts } from '../core/perf/index.ts';
import { barChartSvg } from './chart.ts';

/** The six headline figures of a policy, seconds, averaged over runs (the `compare --json` shape kept since the first release). */
export interface PolicyMeans {
  perTokenMean: number;
  ttftMean: number;
  responseMean: number;
  responseP95: number;
  waitingMean: number;
  serviceMean: number;
}

/** The headline figures' names, in table order. */
export const policyMeanKeys = ['perTokenMean', 'ttftMean', 'responseMean', 'responseP95', 'waitingMean', 'serviceMean'] as const;

/**
 * One policy's means over runs plus, beside each, the half-width of its 95 % confidence interval
 * over runs (Student t, seconds; NaN — `null` in JSON — with fewer than 2 runs; 0 when every run
 * gave the same figure, as on a deterministic scenario).
 */
export interface PolicySummary extends PolicyMeans {
  perTokenMeanCi95: number;
  ttftMeanCi95: number;
  responseMeanCi95: number;
  responseP95Ci95: number;
  waitingMeanCi95: number;
  serviceMeanCi95: number;
}

/** Two-sided 95 % quantiles of Student's t for 1…30 degrees of freedom. */
const t95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t_{0.975, df}: the table up to 30, then the Cornish–Fisher expansion around the normal's 1.96 (error < 1e-3). */
export function studentT95(df: number): number {
  if (!(df >= 1)) return NaN;
  const d = Math.floor(df);
  const tabled = t95[d - 1];
  if (tabled !== undefined) return tabled;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * d) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * d * d);
}

/** Sample mean and the half-width of its 95 % Student-t confidence interval (NaN with fewer than 2 values). */
export function meanCi95(values: readonly number[]): { mean: number; ci95: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, ci95: NaN };
  const mean = values.reduce((a, v) => a + v, 0) / n;
  if (n < 2) return { mean, ci95: NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  // Identical runs give a spread of pure rounding noise; report it as the exact 0 it is.
  const ci95 = variance <= (Number.EPSILON * mean) ** 2 ? 0 : (studentT95(n - 1) * Math.sqrt(variance)) / Math.sqrt(n);
  return { mean, ci95 };
}

/** `12.41 ± 0.80` (digits after the point), or just the mean when the interval is n/a. */
export function formatMeanCi(mean: number, ci95: number, digits: number): string {
  if (!Number.isFinite(mean)) return '—';
  // A mean that rounds to zero prints as 0, not "-0.00" (float sums of waits can land at −1e-12).
  if (Math.abs(mean) < 0.5 * 10 ** -digits) mean = 0;
  return Number.isFinite(ci95) ? `${mean.toFixed(digits)} ± ${ci95.toFixed(digits)}` : mean.toFixed(digits);
}

/** Extra per-policy figures kept beside the summary. */
export interface PolicyDetails {
  placement: string;
  routing: string;
  finished: number;
  requests: number;
  tpotMean: number;
  retriesMean: number;
  failovers: number;
  routingMsMean: number;
  placementMs: number;
  predictedPerToken: number;
  /** Offered load vs capacity and throughput (requests/s) and whether the queue is unstable. */
  load?: LoadFigures;
}

/** Averages the runs of one policy (one run per seed), in seconds, with 95 % intervals over the runs. */
export function summarizeRuns(runs: readonly SimResult[]): PolicySummary {
  const stat = (f: (r: SimResult) => number): { mean: number; ci95: number } => meanCi95(runs.map((r) => f(r) / 1000));
  const perToken = stat((r) => r.metrics.perTokenMs.mean);
  const ttft = stat((r) => r.metrics.ttftMs.mean);
  const response = stat((r) => r.metrics.responseMs.mean);
  const p95 = stat((r) => r.metrics.responseMs.p95);
  const waiting = stat((r) => r.metrics.waitingMs.mean);
  const service = stat((r) => r.metrics.serviceMs.mean);
  return {
    perTokenMean: perToken.mean,
    ttftMean: ttft.mean,
    responseMean: response.mean,
    responseP95: p95.mean,
    waitingMean: waiting.mean,
    serviceMean: service.mean,
    perTokenMeanCi95: perToken.ci95,
    ttftMeanCi95: ttft.ci95,
    responseMeanCi95: response.ci95,
    responseP95Ci95: p95.ci95,
    waitingMeanCi95: waiting.ci95,
    serviceMeanCi95: service.ci95,
  };
}

/** Offered load against what a placement can serve, per run averaged (requests/s). */
export interface LoadFigures {
  /** Requests / time of the last arrival. */
  offeredPerS: number;
  /** Σ_k c_k / T_k over the GCA chains of the placement at the planned lengths: the most any router can sustain without waiting. */
  capacityPerS: number;
  /**
   * Sustained throughput: finished requests / (time of the last event − the mean service time).
   * A stable run ends about one service time after its last arrival, so this is ≈ the offered load;
   * a growing backlog drains long after and shows here as throughput below the offered load.
   */
  throughputPerS: number;
  /**
   * True when the queue grows for the whole run: offered load above capacity, or sustained
   * throughput below 0.8 × offered (for PETALS: clients in backoff leave capacity idle). The means of
   * such a run grow with the trace length and are not an effect size.
   */
  unstable: boolean;
}

/** Σ_k c_k / T_k, requests/s, over GCA chains of a placement (its own chains when it has them). */
export function placementCapacityPerS(snapshot: SwarmSnapshot, placement: PlacementResult): number {
  const costs = serverJobCosts(snapshot, snapshot.workload.meanInputTokens, snapshot.workload.meanOutputTokens);
  const chains = placement.chains ?? allocateCache(placement.assignments, snapshot.model.numBlocks, jobLinkCostMs(costs));
  return chains.reduce((a, k) => a + (k.serviceMs > 0 ? (1000 * k.capacity) / k.serviceMs : 0), 0);
}

/**
 * The load figures of one policy's runs, each with the time of its last arrival (ms);
 * `capacityPerS` is its placement's (averaged over seeds when the placement draws).
 */
export function loadFigures(runs: readonly { result: SimResult; lastArrivalMs: number }[], capacityPerS: number): LoadFigures {
  const n = Math.max(1, runs.length);
  let offered = 0;
  let throughput = 0;
  for (const { result: r, lastArrivalMs } of runs) {
    offered += lastArrivalMs > 0 ? (1000 * r.metrics.requests) / lastArrivalMs : 0;
    const serviceMs = Number.isFinite(r.metrics.serviceMs.mean) ? r.metrics.serviceMs.mean : 0;
    const spanMs = Math.max(lastArrivalMs, r.metrics.makespanMs - serviceMs);
    throughput += spanMs > 0 ? (1000 * r.metrics.finished) / spanMs : 0;
  }
  offered /= n;
  throughput /= n;
  return { offeredPerS: offered, capacityPerS, throughputPerS: throughput, unstable: offered > capacityPerS || throughput < 0.8 * offered };
}

export { barChartSvg, type ChartSeries } from './chart.ts';

/** The charts of a compare report: file name → SVG. */
export function compareCharts(summaries: Record<string, PolicySummary>): Record<string, string> {
  const names = Object.keys(summaries);
  const pick = (f: (s: PolicySummary) => number): number[] => names.map((n) => {
    const s = summaries[n];
    return s === undefined ? NaN : f(s);
  });
  return {
    'per-token.svg': barChartSvg('Average time per output token (T / l_out), 95 % CI', 's', names, [
      { name: 'per-token', values: pick((s) => s.perTokenMean), errors: pick((s) => s.perTokenMeanCi95) },
    ]),
    'response.svg': barChartSvg('Response time, 95 % CI', 's', names, [
      { name: 'mean', values: pick((s) => s.responseMean), errors: pick((s) => s.responseMeanCi95) },
      { name: 'p95', values: pick((s) => s.responseP95), errors: pick((s) => s.responseP95Ci95) },
    ]),
    'waiting-service.svg': barChartSvg('Mean response = waiting + service, 95 % CI', 's', names, [
      { name: 'service', values: pick((s) => s.serviceMean), errors: pick((s) => s.serviceMeanCi95) },
      { name: 'waiting', values: pick((s) => s.waitingMean), errors: pick((s) => s.waitingMeanCi95) },
    ], true),
    'ttft.svg': barChartSvg('Time to first token, 95 % CI', 's', names, [{ name: 'TTFT', values: pick((s) => s.ttftMean), errors: pick((s) => s.ttftMeanCi95) }]),
  };
}

/** `2.57 / 1.40 → 1.35/s UNSTABLE`: offered load, the placement's capacity, throughput and the verdict. */
export function loadCell(load: LoadFigures): string {
  return `${load.offeredPerS.toFixed(2)} / ${load.capacityPerS.toFixed(2)} → ${load.throughputPerS.toFixed(2)}/s${load.unstable ? ' UNSTABLE' : ''}`;
}

/** The markdown report of a compare run. */
export function compareMarkdown(opts: {
  scenario: string;
  description: string;
  command: string;
  runs: number;
  seed: number;
  summaries: Record<string, PolicySummary>;
  details: Record<string, PolicyDetails>;
  charts: string[];
}): string {
  const rows = Object.entries(opts.summaries).map(([name, s]) => {
    const d = opts.details[name];
    const f = formatMeanCi;
    return `| ${name} | ${d?.placement ?? ''} + ${d?.routing ?? ''} | ${f(s.perTokenMean, s.perTokenMeanCi95, 3)} | ${f(s.ttftMean, s.ttftMeanCi95, 3)} | ${f(s.responseMean, s.responseMeanCi95, 2)} | ${f(s.responseP95, s.responseP95Ci95, 2)} | ${f(s.waitingMean, s.waitingMeanCi95, 2)} | ${f(s.serviceMean, s.serviceMeanCi95, 2)} | ${d === undefined ? '' : `${d.finished}/${d.requests}`} | ${d?.load === undefined ? '' : loadCell(d.load)} |`;
  });
  return [
    `# Compare: ${opts.scenario}`,
    '',
    opts.description,
    '',
    `Command: \`${opts.command}\` — ${opts.runs} run(s) from seed ${opts.seed}: mean ± 95 % confidence interval over the runs (Student t; no interval with one run). Times in seconds; load in requests/s.`,
    '',
    '| policy | placement + routing | per-token | TTFT | response mean | response p95 | waiting | service | finished | offered / capacity → throughput |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    ...opts.charts.map((c) => `![${c}](${c})`),
    '',
  ].join('\n');
}
