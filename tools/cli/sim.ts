// `bouquet sim`: simulate a scenario under one placement + routing policy and print the metrics.
import { runScenario, type SimResult } from '../../sim/index.ts';
import { loadScenarioFrom } from '../scenarios/index.ts';
import { ArgumentError, parseScenarioPolicy, runVerb, seconds, table } from './sim-common.ts';

const usage = `usage: bouquet sim (--scenario FILE | --from FILE|URL) --policy NAME [--seed S] [--json]

--from reads a scenario from a file or a URL, such as a live server's
http://HOST:PORT/api/scenario (the swarm's volunteers, clients' measured RTTs, workload and
the policies in force as "live"; --policy defaults to "live" there).

Simulates the scenario's requests under the policy (placement + routing; see bouquet plan --help)
and prints per-token time, time to first token, time per output token, response time, waiting and
service (mean, p50, p95, p99, in seconds), retries, failovers and per-server load. Deterministic
for a seed (default 1).`;

/** Text report of one run. */
export function formatSimResult(name: string, r: SimResult): string {
  const m = r.metrics;
  const dist = (label: string, d: { mean: number; p50: number; p95: number; p99: number }): string[] => [
    label,
    seconds(d.mean),
    seconds(d.p50),
    seconds(d.p95),
    seconds(d.p99),
  ];
  const lines = [
    `${name} (placement ${r.policy.placement}, routing ${r.policy.routing}): ${m.finished}/${m.requests} requests finished`,
    table(
      ['seconds', 'mean', 'p50', 'p95', 'p99'],
      [
        dist('per-token', m.perTokenMs),
        dist('TTFT', m.ttftMs),
        dist('per output token', m.tpotMs),
        dist('response', m.responseMs),
        dist('waiting', m.waitingMs),
        dist('service', m.serviceMs),
      ],
    ),
    `retries per request ${m.retriesMean.toFixed(2)}, failovers ${m.failovers}, replay ${seconds(m.replayMsMean)} s per request`,
    `routing: ${r.timing.routingCalls} calls, ${(r.timing.routingMsTotal / Math.max(1, r.timing.routingCalls)).toFixed(3)} ms mean, ${r.timing.routingMsMax.toFixed(2)} ms max; placement ${r.timing.placementMs.toFixed(1)} ms`,
  ];
  const busiest = [...m.servers].sort((a, b) => b.cacheOccupancy - a.cacheOccupancy).slice(0, 10);
  if (busiest.length > 0) {
    lines.push(
      table(
        ['server', 'utilization', 'cache occupancy'],
        busiest.map((s) => [s.serverId, s.utilization.toFixed(3), s.cacheOccupancy.toFixed(3)]),
      ),
    );
    if (m.servers.length > busiest.length) lines.push(`(${m.servers.length - busiest.length} more servers; --json lists all)`);
  }
  return lines.join('\n');
}

/** Runs `bouquet sim`; resolves to the exit code. */
export function run(argv: string[]): Promise<number> {
  return runVerb('sim', async () => {
    const { from, rest } = takeFrom(argv);
    const loaded = from === undefined ? undefined : await loadScenarioFrom(from);
    const withPolicy = loaded !== undefined && loaded.policies.live !== undefined && !rest.some((a) => a === '--policy' || a.startsWith('--policy=')) ? [...rest, '--policy', 'live'] : rest;
    const args = parseScenarioPolicy(withPolicy, usage, loaded);
    if (args === null) return 0;
    const { scenario, policy, seed } = args;
    const result = await runScenario(scenario, policy, seed);
    if (args.json) {
      const { placementResult, ...rest } = result;
      console.log(JSON.stringify({ scenario: scenario.name, policyName: policy, seed, ...rest, placement: placementResult }, null, 2));
      return 0;
    }
    console.log(formatSimResult(policy, result));
    return 0;
  });
}

/** Splits `--from SOURCE` (or `--from=SOURCE`) off the arguments; the rest go to the common parser. */
function takeFrom(argv: string[]): { from?: string; rest: string[] } {
  const rest: string[] = [];
  let from: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    let value: string | undefined;
    if (a === '--from') value = argv[++i];
    else if (a.startsWith('--from=')) value = a.slice('--from='.length);
    else {
      rest.push(a);
      continue;
    }
    if (value === undefined || value === '' || value.startsWith('--')) throw new ArgumentError('--from needs a file or a URL');
    if (from !== undefined) throw new ArgumentError('--from given twice');
    from = value;
  }
  return from === undefined ? { rest } : { from, rest };
}
