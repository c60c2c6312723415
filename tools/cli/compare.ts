// `bouquet compare`: simulate a scenario under several policies over several seeds and report the metrics.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareCharts, compareMarkdown, resolvePolicy, runScenario, summarizeRuns, type PolicyDetails, type PolicySummary, type SimResult } from '../../sim/index.ts';
import { loadScenario } from '../scenarios/index.ts';
import { ArgumentError, intOption, parse, runVerb, table } from './sim-common.ts';

const usage = `usage: bouquet compare --scenario FILE [--policies a,b,…] [--runs N] [--seed S] [--json] [--out DIR]

Simulates the scenario under each policy (default: the scenario's "compare" list, usually
petals,bprr,followup) for N seeds (default 1, starting at S, default 1) and prints a table of the
averages in seconds. --json prints { scenario, runs, seed, policies: { NAME: { perTokenMean,
ttftMean, responseMean, responseP95, waitingMean, serviceMean } }, details } instead (seconds).
--out DIR also writes DIR/report.md with SVG charts.`;

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
    const runs = intOption(values.runs, 'runs', 1, 1);
    const seed = intOption(values.seed, 'seed', 1);
    const summaries: Record<string, PolicySummary> = {};
    const details: Record<string, PolicyDetails> = {};
    let done = 0;
    for (const [i, name] of names.entries()) {
      const results: SimResult[] = [];
      let predicted = 0;
      for (let k = 0; k < runs; k++) {
        const r = await runScenario(scenario, name, seed + k);
        predicted += r.placementResult.prediction.perTokenMs / runs / 1000;
        results.push(r);
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
      };
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
      console.log(JSON.stringify({ scenario: scenario.name, runs, seed, policies: summaries, details }, null, 2));
      return 0;
    }
    console.log(`${scenario.name}: ${runs} run(s) per policy from seed ${seed}; seconds`);
    console.log(
      table(
        ['policy', 'placement+routing', 'per-token', 'TTFT', 'resp mean', 'resp p95', 'waiting', 'service', 'retries', 'finished'],
        names.map((n) => {
          const s = summaries[n];
          const d = details[n];
          if (s === undefined || d === undefined) return [n];
          return [
            n,
            `${d.placement}+${d.routing}`,
            s.perTokenMean.toFixed(3),
            s.ttftMean.toFixed(3),
            s.responseMean.toFixed(2),
            s.responseP95.toFixed(2),
            s.waitingMean.toFixed(2),
            s.serviceMean.toFixed(2),
            d.retriesMean.toFixed(2),
            `${d.finished}/${d.requests}`,
          ];
        }),
      ),
    );
    if (values.out !== undefined) console.log(`report: ${join(values.out, 'report.md')}`);
    return 0;
  });
}
