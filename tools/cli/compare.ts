// `bouquet compare`: simulate a scenario under several policies over several seeds and report the metrics.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  arrivalsAreStochastic,
  capacityLowerBound,
  distinctChurnTraces,
  compareCharts,
  compareMarkdown,
  formatMeanCi,
  generateRequests,
  loadCell,
  loadFigures,
  meanCi95,
  placementCapacityPerS,
  responseLowerBound,
  resolvePolicy,
  runScenario,
  streamRandom,
  summarizeRuns,
  timeIndexedLowerBound,
  type PolicyCombo,
  type PolicyDetails,
  type PolicySummary,
  type ChurnTraceEntry,
  type Scenario,
  type SimResult,
} from '../../sim/index.ts';
import { loadScenario } from '../scenarios/index.ts';
import { ArgumentError, intOption, parse, runVerb, table } from './sim-common.ts';

/** Seeds `compare` runs by default on a stochastic scenario: enough for a Student-t interval that means something. */
export const defaultStochasticRuns = 10;

const usage = `usage: bouquet compare --scenario FILE [--policies a,b,…] [--runs N] [--seed S] [--lower-bound] [--time-bound] [--json] [--out DIR]

Simulates the scenario under each policy (default: the scenario's "compare" list, usually
petals,bprr,followup) for N seeds (starting at S, default 1) and prints a table of the means over
the seeds ± the half-width of their 95 % confidence interval (Student t), in seconds. N defaults to
${defaultStochasticRuns} when anything in the run is drawn (Poisson or bursty arrivals, churn, a trace
without client ids, PETALS' join order) and to 1 when the scenario is deterministic. Each row also
shows the offered load against the placement's capacity and the throughput (requests/s), and marks
an unstable queue. --json prints { scenario, runs, seed, policies: { NAME: { perTokenMean,
ttftMean, responseMean, responseP95, waitingMean, serviceMean, and beside each …Ci95 (null with
one run) } }, details: { NAME: { …, load: { offeredPerS, capacityPerS, throughputPerS, unstable } } } }
instead (seconds). --out DIR also writes DIR/report.md with SVG charts with error bars.
--lower-bound adds the relaxed lower bound over the same seeds (every request alone on the swarm,
on the fastest chain any placement could give it, at nominal speeds; no policy can beat its mean
or p95): a last line, and in --json "lowerBound": { responseMean, responseMeanCi95, responseP95,
responseP95Ci95 } (seconds). It also adds the capacity bound (sim/capacity-bound.ts): the relaxed
bound plus the memory a one-hop session holds on a server with all blocks — a fluid LP over the
run's requests (churn: expected online time), never below the relaxed mean: a second line, and in
--json "capacityBound": { responseMean, responseMeanCi95 } (seconds). --time-bound adds the
time-indexed capacity bound (sim/time-bound.ts): one-hop sessions limited by each server's memory
in every 0.5 s slot under each run's actual arrivals and churn (clairvoyant: below any policy on that
run that fails no session over; an LP of ~10⁶ nonzeros per seed on a 2000-request swarm, 1–2 min):
a line, and in --json
"timeBound": { responseMean, responseMeanCi95 } (seconds).`;

/** Placements that draw from the seed (PETALS' join order and rebalancing shuffles). */
const seededPlacements = new Set(['petals']);

/** Whether a compare of these policies gives different figures for different seeds. */
export function isStochastic(scenario: Scenario, combos: readonly PolicyCombo[]): boolean {
  return arrivalsAreStochastic(scenario.arrivals, scenario.snapshot.clients) || scenario.churn !== undefined || combos.some((c) => seededPlacements.has(c.placement));
}

function progress(done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} runs${done === total ? '\n' : ''}`);
}

/** Runs `bouquet compare`; resolves to the exit code. */
export function run(argv: string[]): Promise<number> {
  return runVerb('compare', async () => {
    const { values } = parse(argv, {
      scenario: { type: 'string' },
      policies: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      'lower-bound': { type: 'boolean' },
      'time-bound': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      console.log(usage);
      return 0;
    }
    if (values.scenario === undefined) throw new ArgumentError('--scenario FILE is required (see --help)');
    const scenario = loadScenario(values.scenario);
    const names = values.policies === undefined ? scenario.compare : values.policies.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === 0) throw new ArgumentError('--policies needs at least one policy name');
    const combos = names.map((n) => resolvePolicy(scenario, n)); // fail fast on a bad name
    const runs = intOption(values.runs, 'runs', isStochastic(scenario, combos) ? defaultStochasticRuns : 1, 1);
    const seed = intOption(values.seed, 'seed', 1);
    const summaries: Record<string, PolicySummary> = {};
    const details: Record<string, PolicyDetails> = {};
    let done = 0;
    // Each seed's churn as every policy's run recorded it (the time-indexed bound is taken over them).
    const churnOf: ChurnTraceEntry[][][] = Array.from({ length: runs }, () => []);
    for (const [i, name] of names.entries()) {
      const results: SimResult[] = [];
      const withArrivals: { result: SimResult; lastArrivalMs: number }[] = [];
      let predicted = 0;
      let capacity = 0;
      for (let k = 0; k < runs; k++) {
        const r = await runScenario(scenario, name, seed + k);
        predicted += r.placementResult.prediction.perTokenMs / runs / 1000;
        capacity += placementCapacityPerS(scenario.snapshot, r.placementResult) / runs;
        // The same stream runScenario draws from, so the same arrivals.
        const requests = generateRequests(scenario.arrivals, scenario.snapshot.clients, streamRandom(seed + k, 'arrivals'));
        withArrivals.push({ result: r, lastArrivalMs: requests.reduce((m, q) => Math.max(m, q.arrivalMs), 0) });
        results.push(r);
        churnOf[k]?.push([...r.churn]);
        progress(++done, names.length * runs);
      }
      summaries[name] = summarizeRuns(results);
      const avg = (f: (r: SimResult) => number): number => results.reduce((s, r) => s + f(r), 0) / results.length;
      details[name] = {
        placement: combos[i]?.placement ?? '',
        routing: combos[i]?.routing ?? '',
        finished: avg((r) => r.metrics.finished),
        requests: avg((r) => r.metrics.requests),
        tpotMean: avg((r) => r.metrics.tpotMs.mean) / 1000,
        retriesMean: avg((r) => r.metrics.retriesMean),
        failovers: avg((r) => r.metrics.failovers),
        routingMsMean: avg((r) => r.timing.routingMsTotal / Math.max(1, r.timing.routingCalls)),
        placementMs: avg((r) => r.timing.placementMs),
        predictedPerToken: predicted,
        load: loadFigures(withArrivals, capacity),
      };
    }
    let lowerBound: { responseMean: number; responseMeanCi95: number | null; responseP95: number; responseP95Ci95: number | null } | undefined;
    let capacityBound: { responseMean: number; responseMeanCi95: number | null } | undefined;
    // Each seed's requests, as its runs drew them; every bound is taken over the same ones.
    const requestsOf = Array.from({ length: runs }, (_, k) => generateRequests(scenario.arrivals, scenario.snapshot.clients, streamRandom(seed + k, 'arrivals')));
    if (values['lower-bound'] === true) {
      const bounds = requestsOf.map((requests) => responseLowerBound(scenario.snapshot, requests));
      const mean = meanCi95(bounds.map((b) => b.meanMs / 1000));
      const p95 = meanCi95(bounds.map((b) => b.p95Ms / 1000));
      const ci = (x: number): number | null => (Number.isFinite(x) ? x : null);
      lowerBound = { responseMean: mean.mean, responseMeanCi95: ci(mean.ci95), responseP95: p95.mean, responseP95Ci95: ci(p95.ci95) };
      const capacity: number[] = [];
      for (const requests of requestsOf) {
        const b = await capacityLowerBound(scenario.snapshot, requests, scenario.churn === undefined ? {} : { churn: scenario.churn });
        capacity.push(b.meanMs / 1000);
      }
      const cap = meanCi95(capacity);
      capacityBound = { responseMean: cap.mean, responseMeanCi95: ci(cap.ci95) };
    }
    let timeBound: { responseMean: number; responseMeanCi95: number | null } | undefined;
    if (values['time-bound'] === true) {
      const perSeed: number[] = [];
      for (let k = 0; k < runs; k++) {
        const requests = requestsOf[k] ?? [];
        let least = Infinity;
        for (const churn of distinctChurnTraces(churnOf[k] ?? [])) least = Math.min(least, (await timeIndexedLowerBound(scenario.snapshot, requests, churn)).meanMs);
        perSeed.push(least / 1000);
      }
      const t = meanCi95(perSeed);
      timeBound = { responseMean: t.mean, responseMeanCi95: Number.isFinite(t.ci95) ? t.ci95 : null };
    }
    if (values.out !== undefined) {
      mkdirSync(values.out, { recursive: true });
      const charts = compareCharts(summaries);
      for (const [file, svg] of Object.entries(charts)) writeFileSync(join(values.out, file), svg);
      const md = compareMarkdown({
        scenario: scenario.name,
        description: scenario.description,
        command: `bouquet compare ${argv.join(' ')}`,
        runs,
        seed,
        summaries,
        details,
        charts: Object.keys(charts),
      });
      writeFileSync(join(values.out, 'report.md'), md);
    }
    if (values.json === true) {
      console.log(JSON.stringify({ scenario: scenario.name, runs, seed, policies: summaries, details, ...(lowerBound === undefined ? {} : { lowerBound }), ...(capacityBound === undefined ? {} : { capacityBound }), ...(timeBound === undefined ? {} : { timeBound }) }, null, 2));
      return 0;
    }
    console.log(`${scenario.name}: ${runs} run(s) per policy from seed ${seed}; seconds, mean${runs > 1 ? ' ± 95 % CI over the runs' : ' (one run: CI n/a)'}; load in requests/s`);
    console.log(
      table(
        ['policy', 'placement+routing', 'per-token', 'TTFT', 'resp mean', 'resp p95', 'waiting', 'service', 'retries', 'finished', 'offered / capacity → throughput'],
        names.map((n) => {
          const s = summaries[n];
          const d = details[n];
          if (s === undefined || d === undefined) return [n];
          return [
            n,
            `${d.placement}+${d.routing}`,
            formatMeanCi(s.perTokenMean, s.perTokenMeanCi95, 3),
            formatMeanCi(s.ttftMean, s.ttftMeanCi95, 3),
            formatMeanCi(s.responseMean, s.responseMeanCi95, 2),
            formatMeanCi(s.responseP95, s.responseP95Ci95, 2),
            formatMeanCi(s.waitingMean, s.waitingMeanCi95, 2),
            formatMeanCi(s.serviceMean, s.serviceMeanCi95, 2),
            d.retriesMean.toFixed(2),
            `${d.finished}/${d.requests}`,
            d.load === undefined ? '' : loadCell(d.load),
          ];
        }),
      ),
    );
    const unstable = names.filter((n) => details[n]?.load?.unstable === true);
    if (unstable.length > 0) {
      console.log(`unstable queue (offered load above capacity, or throughput < 0.8 × offered): ${unstable.join(', ')} — its means grow with the trace length and are not an effect size`);
    }
    if (lowerBound !== undefined) {
      console.log(
        `relaxed lower bound (each request alone on its fastest possible chain): resp mean ${formatMeanCi(lowerBound.responseMean, lowerBound.responseMeanCi95 ?? NaN, 2)} s, resp p95 ${formatMeanCi(lowerBound.responseP95, lowerBound.responseP95Ci95 ?? NaN, 2)} s`,
      );
    }
    if (capacityBound !== undefined) {
      console.log(`capacity lower bound (one-hop sessions limited by the servers' memory): resp mean ${formatMeanCi(capacityBound.responseMean, capacityBound.responseMeanCi95 ?? NaN, 2)} s`);
    }
    if (timeBound !== undefined) {
      console.log(`time-indexed capacity bound (each run's arrivals and churn, mean memory per 0.5 s slot, clairvoyant): resp mean ${formatMeanCi(timeBound.responseMean, timeBound.responseMeanCi95 ?? NaN, 2)} s`);
    }
    if (values.out !== undefined) console.log(`report: ${join(values.out, 'report.md')}`);
    return 0;
  });
}
