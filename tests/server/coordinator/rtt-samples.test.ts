// The coordinator's typical-client RTTs: one sample per client, so a client repeating itself cannot move the median.
import { describe, expect, it } from 'vitest';
import { RttSamples } from '../../../server/coordinator/rtt-samples.ts';

describe('RttSamples', () => {
  it('keeps the latest RTT per client and takes the median over clients', () => {
    const s = new RttSamples(3);
    expect(s.medianMs('v')).toBeNaN();
    s.note('v', 'a', 10);
    s.note('v', 'b', 20);
    for (let i = 0; i < 50; i++) s.note('v', 'loud', 60_000); // one client, many reports: one sample
    expect(s.medianMs('v')).toBe(20);
    s.note('v', 'a', 12); // a's latest replaces its earlier one
    s.note('v', 'c', 14); // over the bound: the least recently reporting client ('b') goes
    expect(s.medianMs('v')).toBe(14); // {loud: 60000, a: 12, c: 14}
    s.forget('v');
    expect(s.medianMs('v')).toBeNaN();
  });
});
