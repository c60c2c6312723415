// releaseBuffers: weight arrays are detached once their copy is made, but never a view that shares its buffer.
import { describe, expect, it } from 'vitest';
import { releaseBuffers } from '../../../worker/weights/index.ts';

describe('releaseBuffers', () => {
  it('detaches arrays that own their buffer, once each, and says how many bytes', () => {
    const a = new Float32Array(256);
    const b = new Uint8Array(100);
    expect(releaseBuffers([a, b, a])).toBe(1024 + 100);
    expect(a.length).toBe(0);
    expect(b.byteLength).toBe(0);
    // Released already: nothing more to do, no error.
    expect(releaseBuffers([a])).toBe(0);
  });

  it('leaves views into a larger buffer alone (others may still read it)', () => {
    const whole = new Float32Array(64).fill(1);
    const part = whole.subarray(8, 16);
    expect(releaseBuffers([part])).toBe(0);
    expect(whole[0]).toBe(1);
    expect(part.length).toBe(8);
  });
});
