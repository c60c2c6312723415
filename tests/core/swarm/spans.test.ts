// core/swarm sameSpan: one definition of "the same blocks" for the coordinator, the reconciler, volunteers and the dashboard.
import { describe, expect, it } from 'vitest';
import { sameSpan } from '../../../core/swarm/index.ts';

describe('sameSpan', () => {
  it('compares start and end, not identity', () => {
    expect(sameSpan({ start: 2, end: 5 }, { start: 2, end: 5 })).toBe(true);
    expect(sameSpan({ start: 2, end: 5 }, { start: 2, end: 6 })).toBe(false);
    expect(sameSpan({ start: 1, end: 5 }, { start: 2, end: 5 })).toBe(false);
  });

  it('treats null and undefined alike as "serves nothing"', () => {
    expect(sameSpan(null, null)).toBe(true);
    expect(sameSpan(null, undefined)).toBe(true);
    expect(sameSpan(null, { start: 0, end: 1 })).toBe(false);
    expect(sameSpan({ start: 0, end: 1 }, undefined)).toBe(false);
  });
});
