// The CLI verbs' shared option reading: integers with a floor, refused with code 'bad-argument' (empty, fractional, below the floor).
import { describe, expect, it } from 'vitest';
import { isBouquetError } from '../../../core/errors/index.ts';
import { intOption } from '../../../tools/cli/sim-common.ts';

const codeOf = (f: () => unknown): string | null => {
  try {
    f();
  } catch (e) {
    return isBouquetError(e) ? e.code : 'not-a-bouquet-error';
  }
  return null;
};

describe('intOption', () => {
  it('reads an integer at or above the floor, and takes the default when the option is absent', () => {
    expect(intOption('3', 'volunteers', 9, 1)).toBe(3);
    expect(intOption('0', 'port', 8787)).toBe(0);
    expect(intOption(undefined, 'port', 8787)).toBe(8787);
  });

  it("refuses an empty value (Number('') is 0), a fraction and a value below the floor with 'bad-argument'", () => {
    expect(codeOf(() => intOption('', 'runs', 10))).toBe('bad-argument');
    expect(codeOf(() => intOption('  ', 'runs', 10))).toBe('bad-argument');
    expect(codeOf(() => intOption('1.5', 'runs', 10))).toBe('bad-argument');
    expect(codeOf(() => intOption('0', 'volunteers', 3, 1))).toBe('bad-argument');
  });
});
