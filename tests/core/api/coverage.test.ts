// A model's coverage read off its swarm state, and the model a new volunteer serves by default (core/policies volunteerModelPick).
import { describe, expect, it } from 'vitest';
import { modelCoverage, type ModelCoverage, type SwarmState, type VolunteerView } from '../../../core/api/index.ts';
import { volunteerModelPick } from '../../../core/policies/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';

const info = (id: string, numBlocks: number): SwarmState['model'] => ({
  id, numBlocks, blockBytes: 1000, cacheBytesPerBlock: 100, maxSessionTokens: 64, filesPath: `/models/${id}/`, files: ['config.json'],
});

function volunteer(peerId: string, state: VolunteerView['state'], span: BlockSpan | null, assignedSpan: BlockSpan | null = span): VolunteerView {
  return {
    peerId, state, span, assignedSpan, load: { activeSessions: 0, freeCacheSlots: 4, state }, decodeMsPerBlock: 1,
    prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 }, memoryBytes: 1e6, backend: 'wasm', cacheSlots: 4, leasedSlots: 0, joinedAtMs: 0, lastHeartbeatAtMs: 0, probation: false,
  };
}

function state(id: string, numBlocks: number, volunteers: VolunteerView[], uncoveredBlocks: number[] = []): SwarmState {
  return {
    atMs: 0, model: info(id, numBlocks), routingPolicy: 'ws-rr', placement: { policy: 'bprr', perTokenMs: null, computedAtMs: 0, uncoveredBlocks },
    volunteers, predictions: [], recentRoutes: [], queueLength: 0, activeLeases: 0,
  };
}

describe('modelCoverage', () => {
  it('counts blocks held by serving volunteers, and replicas over serving and loading ones', () => {
    const c = modelCoverage(state('m', 4, [
      volunteer('a', 'serving', { start: 0, end: 2 }),
      volunteer('b', 'loading', null, { start: 2, end: 4 }),
      volunteer('c', 'serving', { start: 1, end: 3 }),
    ]));
    expect(c).toMatchObject({ volunteers: 3, servedBlocks: 3, fullyServed: false, minReplicas: 1, meanReplicas: 6 / 4 });
  });

  it('is fully served once serving volunteers hold every block; a draining one adds no replicas', () => {
    const c = modelCoverage(state('m', 2, [volunteer('a', 'serving', { start: 0, end: 2 }), volunteer('d', 'draining', { start: 0, end: 2 })]));
    expect(c).toMatchObject({ servedBlocks: 2, fullyServed: true, minReplicas: 1, meanReplicas: 1 });
    expect(modelCoverage(state('e', 3, [], [0, 1, 2]))).toMatchObject({ volunteers: 0, servedBlocks: 0, fullyServed: false, minReplicas: 0, uncoveredBlocks: [0, 1, 2] });
  });
});

describe('volunteerModelPick', () => {
  const cov = (id: string, minReplicas: number, meanReplicas: number, volunteers = 1): ModelCoverage => ({
    model: info(id, 4), volunteers, servedBlocks: 4, minReplicas, meanReplicas, fullyServed: minReplicas > 0, uncoveredBlocks: [],
  });

  it('picks the model whose least-held block has the fewest volunteers', () => {
    expect(volunteerModelPick([cov('a', 2, 2), cov('b', 1, 3), cov('c', 3, 3)])).toBe('b');
    expect(volunteerModelPick([cov('a', 1, 1), cov('b', 0, 0.5)])).toBe('b');
  });

  it('breaks a tie by fewer volunteers per block on average, then by the order served', () => {
    expect(volunteerModelPick([cov('a', 1, 2), cov('b', 1, 1.25)])).toBe('b');
    expect(volunteerModelPick([cov('a', 0, 0), cov('b', 0, 0)])).toBe('a');
    // A volunteer registered but not placed yet counts: the next one goes to the model nobody has joined.
    expect(volunteerModelPick([cov('a', 0, 0, 1), cov('b', 0, 0, 0)])).toBe('b');
    expect(() => volunteerModelPick([])).toThrow(expect.objectContaining({ code: 'bad-argument' }));
  });
});
