// One thrown error of every Bouquet error class, with its expected class, code and data: what each boundary test sends across.
import type { BouquetError } from '../../../core/errors/index.ts';
import { PeerError } from '../../../core/protocol/index.ts';
import { CoordinatorApiError } from '../../../core/api/index.ts';
import { ModelShapeError } from '../../../core/model/index.ts';
import { PerfModelError } from '../../../core/perf/index.ts';
import { InfeasiblePlacementError, MilpNoSolutionError, UnknownPolicyError } from '../../../core/placement/index.ts';
import { ScenarioError } from '../../../sim/index.ts';
import { RuntimeError } from '../../../worker/index.ts';
import { ModelFolderError, PlacementThreadError } from '../../../server/index.ts';
import { ArgumentError } from '../../../tools/cli/sim-common.ts';

/** A sample error and the class it must arrive as. */
export interface ErrorSample {
  error: BouquetError;
  kind: abstract new (...args: never[]) => BouquetError;
}

/** One of each class (specific data included: `re`/`peerId`, `field`, `reason`, `policy`). */
export function errorSamples(): ErrorSample[] {
  return [
    { error: new PeerError('cache-full', 'no free cache slots (3/3 used)', 7, 'v1'), kind: PeerError },
    { error: new RuntimeError('session-exists', 'session s1 is already open'), kind: RuntimeError },
    { error: new CoordinatorApiError('model-mismatch', 'this coordinator serves stories260K', 'modelId'), kind: CoordinatorApiError },
    { error: new ScenarioError('scenario.servers[3].memoryBytes', 'must be > 0'), kind: ScenarioError },
    { error: new ModelShapeError('dim 63 is not divisible by n_heads 8'), kind: ModelShapeError },
    { error: new PerfModelError('no RTT from c1 to s2'), kind: PerfModelError },
    { error: new InfeasiblePlacementError('the servers hold 3 of 5 blocks'), kind: InfeasiblePlacementError },
    { error: new MilpNoSolutionError('no integer solution within 10 ms'), kind: MilpNoSolutionError },
    { error: new UnknownPolicyError('fastest', "unknown placement policy 'fastest'"), kind: UnknownPolicyError },
    { error: new PlacementThreadError('placement-timeout', 'did not answer within 300 ms'), kind: PlacementThreadError },
    { error: new ModelFolderError('no config.json nor .bin in /m'), kind: ModelFolderError },
    { error: new ArgumentError('--seed must be an integer'), kind: ArgumentError },
  ];
}
