// Which model a page starts on, and what it says about a model's coverage (pure; the pages' ModelsView uses it).
import type { ModelCoverage, ModelsList } from '../../../core/api/index.ts';

/** Which model a page starts on: the server's default (first), the first fully served one, or the one volunteers are needed for most. */
export type InitialModel = 'default' | 'served' | 'suggested';

/** The model a page starts on, from the list and the page's preference (a `?model=` the server serves wins). */
export function initialModelId(list: ModelsList, initial: InitialModel, requested: string | null = null): string {
  if (requested !== null && list.models.some((m) => m.model.id === requested)) return requested;
  if (initial === 'suggested') return list.suggestedModelId;
  if (initial === 'served') return list.models.find((m) => m.fullyServed)?.model.id ?? list.defaultModelId;
  return list.defaultModelId;
}

/** Why a chat cannot be sent to `m` now, in plain words, or null when it can. */
export function notServedReason(m: ModelCoverage): string | null {
  if (m.fullyServed) return null;
  const L = m.model.numBlocks;
  return m.volunteers === 0
    ? `No volunteer serves ${m.model.id} yet, so it cannot answer. Pick another model, or open the Volunteer page to serve it.`
    : `${m.model.id} is not fully served yet: volunteers hold ${m.servedBlocks} of its ${L} blocks. Pick another model, or wait for volunteers to load the rest.`;
}

/** A short coverage label for a picker entry. */
export function coverageLabel(m: ModelCoverage): string {
  if (m.fullyServed) return `fully served (${m.volunteers} volunteer${m.volunteers === 1 ? '' : 's'})`;
  return m.volunteers === 0 ? 'no volunteers' : `${m.servedBlocks}/${m.model.numBlocks} blocks served`;
}
