// The package's `bouquet/core` entry: every core part's public surface in one module (placement, routing, dispatch, api, protocol, …).
export * from '../core/api/index.ts';
export * from '../core/cache/index.ts';
export * from '../core/chains/index.ts';
export * from '../core/dispatch/index.ts';
export * from '../core/errors/index.ts';
export * from '../core/generation/index.ts';
export * from '../core/model/index.ts';
export * from '../core/perf/index.ts';
export * from '../core/placement/index.ts';
export * from '../core/policies/index.ts';
export * from '../core/protocol/index.ts';
export * from '../core/random/index.ts';
export * from '../core/routing/index.ts';
export * from '../core/stats/index.ts';
export * from '../core/swarm/index.ts';
