// The pages' model choice: the model each page starts on, and the plain words for a model that cannot answer yet.
import { describe, expect, it } from 'vitest';
import type { ModelCoverage, ModelsList } from '../../../../core/api/index.ts';
import { coverageLabel, initialModelId, notServedReason, spansOfBlocks } from '../../../../web/app/shared/model-choice.ts';

function cov(id: string, volunteers: number, servedBlocks: number, numBlocks = 4, uncoveredBlocks: number[] = []): ModelCoverage {
  return {
    model: { id, numBlocks, blockBytes: 1, cacheBytesPerBlock: 1, maxSessionTokens: 64, filesPath: `/models/${id}/`, files: [] },
    volunteers, servedBlocks, minReplicas: servedBlocks === numBlocks ? 1 : 0, meanReplicas: servedBlocks / numBlocks,
    fullyServed: servedBlocks === numBlocks, uncoveredBlocks,
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
  it('is null for a fully served model; otherwise it names the blocks no volunteer serves, in a person\'s words', () => {
    expect(notServedReason(cov('b', 2, 4))).toBeNull();
    expect(notServedReason(cov('c', 0, 0, 5, [0, 1, 2, 3, 4]))).toMatch(/no volunteer serves blocks 0–4\. No volunteer serves it yet/);
    expect(notServedReason(cov('a', 1, 2, 4, [3, 2]))).toMatch(/no volunteer serves blocks 2–3\. Volunteers hold 2 of its 4 blocks/);
    expect(notServedReason(cov('a', 2, 3, 6, [1, 4, 5]))).toMatch(/no volunteer serves block 1, blocks 4–5\./);
    // Every block has a volunteer, some still loading: nothing to volunteer for, wait.
    expect(notServedReason(cov('a', 2, 2, 4, []))).toMatch(/still loading its blocks \(2 of 4 ready\)/);
    expect(coverageLabel(cov('a', 1, 2))).toBe('2/4 blocks served');
    expect(coverageLabel(cov('b', 2, 4))).toBe('fully served (2 volunteers)');
  });

  it('spansOfBlocks: blocks in any order, repeated or not, become spans in block order', () => {
    expect(spansOfBlocks([])).toEqual([]);
    expect(spansOfBlocks([3, 0, 1, 4, 1])).toEqual([{ start: 0, end: 2 }, { start: 3, end: 5 }]);
  });
});
