// The planner's view of a swarm: public surface of core/swarm.
export type {
  ContentionSpec,
  ServerSpec,
  LinearMs,
  ClientSpec,
  NetworkSpec,
  ModelWorkload,
  WorkloadSpec,
  SwarmSnapshot,
  BlockSpan,
  Hop,
  Chain,
  TimeBreakdown,
} from './types.ts';
export { sameSpan } from './spans.ts';
