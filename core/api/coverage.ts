// How well one model's swarm is served, read off its coordinator's state (GET `apiPaths.servedModels` lists one per model).
import type { ModelCoverage, SwarmState } from './messages.ts';

/**
 * Coverage of the model of `state`: blocks held by serving volunteers (what a chat needs now) and the
 * fewest volunteers assigned any block (serving or loading: what a new volunteer would add to).
 */
export function modelCoverage(state: SwarmState): ModelCoverage {
  const numBlocks = state.model.numBlocks;
  const served = new Array<boolean>(numBlocks).fill(false);
  const assigned = new Array<number>(numBlocks).fill(0);
  for (const v of state.volunteers) {
    if (v.state === 'serving' && v.span !== null) for (let b = v.span.start; b < Math.min(v.span.end, numBlocks); b++) served[b] = true;
    const a = v.assignedSpan ?? v.span;
    if (v.state !== 'draining' && a !== null) for (let b = a.start; b < Math.min(a.end, numBlocks); b++) assigned[b] = (assigned[b] ?? 0) + 1;
  }
  const servedBlocks = served.filter(Boolean).length;
  return {
    model: state.model,
    volunteers: state.volunteers.length,
    servedBlocks,
    minReplicas: numBlocks === 0 ? 0 : Math.min(...assigned),
    meanReplicas: numBlocks === 0 ? 0 : assigned.reduce((a, b) => a + b, 0) / numBlocks,
    fullyServed: numBlocks > 0 && servedBlocks === numBlocks,
    uncoveredBlocks: state.placement.uncoveredBlocks,
  };
}
