// `bouquet plan`: place a scenario's blocks with a policy and print the placement and its prediction.
import { placeFor, resolvePolicy } from '../../sim/index.ts';
import { parseScenarioPolicy, runVerb, seconds, table } from './sim-common.ts';

const usage = `usage: bouquet plan --scenario FILE --policy NAME [--seed S] [--json]

Places the scenario's blocks with the policy's placement and prints, per server, the blocks it
hosts and its cache slots, then the predicted per-token time (no waiting; prefill included) and
the policy's bound where it has one — BPRR's Theorem-2 bound counts decode steps only (no prefill
pass), so it is labelled decode-only and is not comparable with the prediction. NAME: petals, bprr, followup (= gbp-cr), followup-declared, bouquet, a scenario's own policy, or
placement/routing (e.g. bprr/jffc).`;

/** Runs `bouquet plan`; resolves to the exit code. */
export function run(argv: string[]): Promise<number> {
  return runVerb('plan', async () => {
    const args = parseScenarioPolicy(argv, usage);
    if (args === null) return 0;
    const { scenario, policy } = args;
    const combo = resolvePolicy(scenario, policy);
    const placement = await placeFor(scenario, combo, args.seed);
    if (args.json) {
      console.log(JSON.stringify({ scenario: scenario.name, policy, ...combo, placement }, null, 2));
      return 0;
    }
    const rows = placement.assignments.map((a) => [
      a.serverId,
      a.span === null ? '—' : `${a.span.start}–${a.span.end - 1}`,
      String(a.span === null ? 0 : a.span.end - a.span.start),
      String(a.cacheSlots),
    ]);
    console.log(`${scenario.name}: ${policy} (placement ${combo.placement}, routing ${combo.routing})`);
    console.log(table(['server', 'blocks', 'count', 'cache slots'], rows));
    const p = placement.prediction;
    console.log(`predicted per-token time (no waiting, prefill included): ${seconds(p.perTokenMs)} s`);
    console.log(
      `  per request: compute ${seconds(p.breakdown.computeMs)} s, transfer ${seconds(p.breakdown.transferMs)} s, total ${seconds(p.breakdown.totalMs)} s`,
    );
    if (p.perTokenBoundMs !== undefined) {
      // Theorem 2 bounds the decode steps' time per token; the prediction above also spreads the prefill pass over l_out.
      console.log(`decode-only bound on the per-token time (Theorem 2, prefill excluded): ${seconds(p.perTokenBoundMs)} s`);
    }
    if (placement.reservedSessions !== undefined) console.log(`sessions reserved for (R or c): ${placement.reservedSessions}`);
    if (placement.chains !== undefined) {
      const cap = placement.chains.reduce((s, c) => s + c.capacity, 0);
      console.log(`chains (GCA): ${placement.chains.length}, total capacity ${cap} sessions`);
    }
    console.log(`placement took ${placement.runtimeMs.toFixed(1)} ms`);
    return 0;
  });
}
