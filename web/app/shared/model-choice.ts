// Which model a page starts on, and what it says about a model's coverage (pure; the pages' ModelsView uses it).
import type { ModelCoverage, ModelsList } from '../../../core/api/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';
import { blocksInWords } from '../../client/index.ts';

/** Which model a page starts on: the server's default (first), the first fully served one, or the one volunteers are needed for most. */
export type InitialModel = 'default' | 'served' | 'suggested';

/** The model a page starts on, from the list and the page's preference (a `?model=` the server serves wins). */
export function initialModelId(list: ModelsList, initial: InitialModel, requested: string | null = null): string {
  if (requested !== null && list.models.some((m) => m.model.id === requested)) return requested;
  if (initial === 'suggested') return list.suggestedModelId;
  if (initial === 'served') return list.models.find((m) => m.fullyServed)?.model.id ?? list.defaultModelId;
  return list.defaultModelId;
}

/** Blocks (any order) as spans in block order: [3, 0, 1, 4] → [0, 2), [3, 5). */
export function spansOfBlocks(blocks: readonly number[]): BlockSpan[] {
  const spans: BlockSpan[] = [];
  for (const b of [...new Set(blocks)].sort((x, y) => x - y)) {
    const last = spans[spans.length - 1];
    if (last !== undefined && last.end === b) last.end = b + 1;
    else spans.push({ start: b, end: b + 1 });
  }
  return spans;
}

/**
 * Why a chat cannot be sent to `m` now, in plain words naming the blocks that have no volunteer,
 * or null when it can. The page shows it with a link to the volunteer page and keeps Send disabled.
 */
export function notServedReason(m: ModelCoverage): string | null {
  if (m.fullyServed) return null;
  const L = m.model.numBlocks;
  const uncovered = spansOfBlocks(m.uncoveredBlocks);
  if (uncovered.length > 0) {
    const held = m.volunteers === 0 ? 'No volunteer serves it yet' : `Volunteers hold ${m.servedBlocks} of its ${L} blocks`;
    return `${m.model.id} cannot answer yet: no volunteer serves ${blocksInWords(uncovered)}. ${held}; open the volunteer page on a device (a laptop or a phone with a browser) to serve them.`;
  }
  return `${m.model.id} cannot answer yet: volunteers are still loading its blocks (${m.servedBlocks} of ${L} ready). Wait a moment, or pick another model.`;
}

/** A short coverage label for a picker entry. */
export function coverageLabel(m: ModelCoverage): string {
  if (m.fullyServed) return `fully served (${m.volunteers} volunteer${m.volunteers === 1 ? '' : 's'})`;
  return m.volunteers === 0 ? 'no volunteers' : `${m.servedBlocks}/${m.model.numBlocks} blocks served`;
}
