// What a waiting request tells the person: which blocks no serving volunteer holds, and the status words.
import { describe, expect, it } from 'vitest';
import type { SwarmState, VolunteerView } from '../../../core/api/index.ts';
import { blocksInWords, missingSpans, statusWords } from '../../../web/client/index.ts';

function state(numBlocks: number, volunteers: Partial<VolunteerView>[]): SwarmState {
  return { model: { numBlocks }, volunteers } as unknown as SwarmState;
}

describe('missingSpans', () => {
  it('lists the blocks no serving volunteer holds, as spans; loading volunteers do not count', () => {
    expect(missingSpans(state(5, []))).toEqual([{ start: 0, end: 5 }]);
    expect(missingSpans(state(6, [
      { state: 'serving', span: { start: 0, end: 2 } },
      { state: 'loading', span: { start: 2, end: 4 } },
      { state: 'serving', span: { start: 3, end: 4 } },
    ]))).toEqual([{ start: 2, end: 3 }, { start: 4, end: 6 }]);
    expect(missingSpans(state(5, [{ state: 'serving', span: { start: 0, end: 5 } }]))).toEqual([]);
  });

  it('names blocks as people count them (inclusive)', () => {
    expect(blocksInWords([{ start: 0, end: 5 }])).toBe('blocks 0–4');
    expect(blocksInWords([{ start: 2, end: 3 }, { start: 4, end: 6 }])).toBe('block 2, blocks 4–5');
  });
});

describe('statusWords', () => {
  it('says the queue position, the missing blocks, or that the peers are unreachable and TURN is the fix', () => {
    expect(statusWords({ kind: 'queued', position: 2, queueLength: 3 }, 12_000)).toContain('position 2 of 3');
    expect(statusWords({ kind: 'no-volunteer', missing: [{ start: 1, end: 3 }] }, 10_000)).toContain('blocks 1–2');
    expect(statusWords({ kind: 'connecting' }, 10_000)).toContain('TURN');
    expect(statusWords({ kind: 'replacing', failedPeer: 'vk-a', span: { start: 2, end: 5 } }, 10_000)).toContain('blocks 2–4');
  });
});
