// Which model a new volunteer serves by default when one swarm serves several: where blocks are needed most.
import type { ModelCoverage } from '../api/index.ts';
import { BouquetError } from '../errors/index.ts';

/**
 * The model a new volunteer should serve: the one whose least-held block has the fewest volunteers
 * (`minReplicas`; 0 = a block nobody holds, so chats to it cannot be answered); ties go to the one
 * with fewer volunteers per block on average (`meanReplicas`), then to the one with fewer volunteers
 * registered (one not placed yet will add to it), then to the earlier model (the order
 * of `serve --model`). Pure; throws BouquetError 'bad-argument' on an empty list.
 */
export function volunteerModelPick(models: readonly ModelCoverage[]): string {
  let best: ModelCoverage | undefined;
  for (const m of models) {
    // On a tie, fewer volunteers: one that registered but is not placed yet (placement waits a moment) will add to its model.
    const tie = best !== undefined && m.minReplicas === best.minReplicas && m.meanReplicas === best.meanReplicas;
    if (best === undefined || m.minReplicas < best.minReplicas || (m.minReplicas === best.minReplicas && m.meanReplicas < best.meanReplicas) || (tie && m.volunteers < best.volunteers)) best = m;
  }
  if (best === undefined) throw new BouquetError('bad-argument', 'volunteerModelPick needs at least one model');
  return best.model.id;
}
