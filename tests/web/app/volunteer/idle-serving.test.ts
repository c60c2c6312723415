// "Serve only while idle": when the volunteer page pauses and resumes serving.
import { describe, expect, it } from 'vitest';
import { activeWindowMs, shouldServe } from '../../../../web/app/volunteer/idle-serving.ts';

describe('serve only while the device is idle', () => {
  it('always serves when the person did not ask for idle-only', () => {
    expect(shouldServe({ idleOnly: false, visible: true, msSinceInput: 0 })).toBe(true);
  });

  it('pauses while the page is visible and the person used it recently, serves once hidden or left alone', () => {
    expect(shouldServe({ idleOnly: true, visible: true, msSinceInput: 5_000 })).toBe(false);
    expect(shouldServe({ idleOnly: true, visible: false, msSinceInput: 5_000 })).toBe(true);
    expect(shouldServe({ idleOnly: true, visible: true, msSinceInput: activeWindowMs })).toBe(true);
    expect(shouldServe({ idleOnly: true, visible: true, msSinceInput: Number.POSITIVE_INFINITY })).toBe(true);
  });
});
