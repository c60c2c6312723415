// The pages' model choice: the model each page starts on, and the plain words for a model that cannot answer yet.
import { describe, expect, it } from 'vitest';
import type { ModelCoverage, ModelsList } from '../../../../core/api/index.ts';
import { coverageLabel, initialModelId, notServedReason } from '../../../../web/app/shared/model-choice.ts';

function cov(id: string, volunteers: number, servedBlocks: number, numBlocks = 4): ModelCoverage {
  return {
    model: { id, numBlocks, blockBytes: 1, cacheBytesPerBlock: 1, maxSessionTokens: 64, filesPath: `/models/${id}/`, files: [] },
    volunteers, servedBlocks, minReplicas: servedBlocks === numBlocks ? 1 : 0, meanReplicas: servedBlocks / numBlocks,
    fullyServed: servedBlocks === numBlocks, uncoveredBlocks: [],
  };
}

const list: ModelsList = { models: [cov('a', 1, 2), cov('b', 2, 4), cov('c', 0, 0)], defaultModelId: 'a', suggestedModelId: 'c' };

describe('initialModelId', () => {
  it('volunteer page: the suggested model; chat page: the first fully served; dashboard: the default', () => {
    expect(initialModelId(list, 'suggested')).toBe('c');
    expect(initialModelId(list, 'served')).toBe('b');
    expect(initialModelId(list, 'default')).toBe('a');
    expect(initialModelId({ ...list, models: [cov('a', 0, 0)] }, 'served')).toBe('a');
  });

  it('a ?model= the server serves wins; one it does not is ignored', () => {
    expect(initialModelId(list, 'served', 'c')).toBe('c');
    expect(initialModelId(list, 'served', 'nope')).toBe('b');
  });
});

describe('notServedReason', () => {
  it('is null for a fully served model and a plain sentence otherwise', () => {
    expect(notServedReason(cov('b', 2, 4))).toBeNull();
    expect(notServedReason(cov('a', 1, 2))).toMatch(/2 of its 4 blocks/);
    expect(notServedReason(cov('c', 0, 0))).toMatch(/No volunteer serves c/);
    expect(coverageLabel(cov('a', 1, 2))).toBe('2/4 blocks served');
    expect(coverageLabel(cov('b', 2, 4))).toBe('fully served (2 volunteers)');
  });
});
