// Churn-aware re-placement within a move budget: move a covering volunteer to its proposed span only when the predicted gain over a horizon outweighs the reload.
import type { BlockSpan, SwarmSnapshot } from '../swarm/index.ts';
import { jobLinkCostMs, serverJobCosts } from '../perf/index.ts';
import { allocateCache } from '../chains/index.ts';
import { jffcResponseTimeBoundMs, makeAssignment, plannedLengths } from '../placement/index.ts';
import { sameSpan } from '../swarm/index.ts';

/**
 * Speed at which a volunteer loads a block's weights when it moves, bytes per second, until
 * volunteers report their own: 50 MB/s, a browser reading weights it has cached (IndexedDB) or a
 * fast download. A move of m blocks costs m · blockBytes / this.
 */
export const defaultLoadBytesPerS = 50e6;

/**
 * A volunteer's expected remaining stay where nothing measured it, ms: 20 minutes, the mean time
 * online of the browser-swarm scenario's tabs (docs/scenarios.md); the live coordinator uses it as
 * the horizon over which a move must pay for its reload.
 */
export const defaultRebalanceHorizonMs = 20 * 60_000;

/** Most volunteers one rebalancing round scores as movers (the ones with the fewest sessions first): bounds its work. */
export const rebalanceCandidates = 6;

/** What a rebalancing round reads. */
export interface RebalanceInput {
  /** The online volunteers and the planned workload (λ, mean lengths) the gain is predicted for. */
  snapshot: SwarmSnapshot;
  /** Each online volunteer's span in force (after reconcile). */
  spans: ReadonlyMap<string, BlockSpan | null>;
  /** The placement policy's proposal for each volunteer. */
  proposed: ReadonlyMap<string, BlockSpan | null>;
  /** Sessions through a volunteer now (a move ends them: each costs about one service time). */
  activeSessions: (peerId: string) => number;
  /** How long a move's gain lasts: the mover's expected remaining stay, ms. */
  horizonMs: number;
  /** Moves this round may still make (the budget left after reconcile's gap moves). */
  maxMoves: number;
  /** A volunteer's weight-loading speed, bytes per second (default `defaultLoadBytesPerS`). */
  loadBytesPerS?: (peerId: string) => number;
  /** Volunteers that must not move this round (reconcile already moved them). */
  exclude?: ReadonlySet<string>;
}

/** One rebalancing move and why: its predicted gain and cost in request-milliseconds. */
export interface RebalanceMove {
  peerId: string;
  span: BlockSpan;
  /** λ · horizon · (T before − T after): response time saved over the horizon, request-ms. */
  gainMs: number;
  /** λ · reload · (T without the mover − T before) + its sessions · T before: what the reload costs, request-ms. */
  costMs: number;
  /** Time to load the new span's weights, ms. */
  reloadMs: number;
}

/**
 * The predicted mean response T of the spans in force, ms: the follow-up's Theorem-4 lower bound
 * for JFFC over GCA's chains at the snapshot's λ and mean lengths (Infinity when the chains
 * cannot carry λ or do not cover the model).
 */
export function predictedResponseMs(snapshot: SwarmSnapshot, spans: ReadonlyMap<string, BlockSpan | null>): number {
  const { lIn, lOut } = plannedLengths(snapshot);
  const hosts = snapshot.servers.filter((s) => (spans.get(s.id) ?? null) !== null).map((s) => makeAssignment(snapshot, s, spans.get(s.id) ?? null));
  const chains = allocateCache(hosts, snapshot.model.numBlocks, jobLinkCostMs(serverJobCosts(snapshot, lIn, lOut)));
  return jffcResponseTimeBoundMs(chains, snapshot.workload.arrivalRatePerS, 'lower');
}

/**
 * Rebalancing moves, at most `maxMoves`, greedily best first: a volunteer whose proposed span
 * differs from the one it holds moves there only when λ · horizon · (T − T_after) exceeds
 * λ · reload · (T_without − T) + sessions · T, i.e. when the response time the move saves over
 * the mover's expected stay outweighs what the swarm loses while it reloads (reload =
 * blocks · blockBytes / load speed) and the sessions it ends. T is `predictedResponseMs`. No move
 * when the swarm is overloaded before and after (T infinite: no gain to measure). Pure.
 */
export function rebalanceMoves(input: RebalanceInput): RebalanceMove[] {
  const { snapshot, proposed, horizonMs } = input;
  const lambdaPerMs = snapshot.workload.arrivalRatePerS / 1000;
  if (input.maxMoves <= 0 || !(horizonMs > 0) || !(lambdaPerMs > 0)) return [];
  const spans = new Map(input.spans);
  const moved = new Set(input.exclude ?? []);
  const out: RebalanceMove[] = [];
  while (out.length < input.maxMoves) {
    const before = predictedResponseMs(snapshot, spans);
    const candidates = snapshot.servers
      .filter((s) => {
        const to = proposed.get(s.id);
        return !moved.has(s.id) && spans.has(s.id) && to !== undefined && to !== null && !sameSpan(spans.get(s.id) ?? null, to);
      })
      .sort((a, b) => input.activeSessions(a.id) - input.activeSessions(b.id) || a.id.localeCompare(b.id))
      .slice(0, rebalanceCandidates);
    let best: RebalanceMove | undefined;
    for (const s of candidates) {
      const to = proposed.get(s.id) as BlockSpan;
      const after = predictedResponseMs(snapshot, new Map(spans).set(s.id, to));
      if (!(after < before)) continue;
      const without = predictedResponseMs(snapshot, new Map(spans).set(s.id, null));
      const reloadMs = ((to.end - to.start) * snapshot.model.blockBytes * 1000) / (input.loadBytesPerS?.(s.id) ?? defaultLoadBytesPerS);
      const gainMs = before === Infinity ? Infinity : lambdaPerMs * horizonMs * (before - after);
      const lostWhileReloading = without === before ? 0 : lambdaPerMs * reloadMs * (without - before);
      const costMs = lostWhileReloading + input.activeSessions(s.id) * (Number.isFinite(before) ? before : after);
      if (!(gainMs > costMs)) continue;
      if (best === undefined || gainMs - costMs > best.gainMs - best.costMs) best = { peerId: s.id, span: to, gainMs, costMs, reloadMs };
    }
    if (best === undefined) break;
    out.push(best);
    moved.add(best.peerId);
    spans.set(best.peerId, best.span);
  }
  return out;
}
