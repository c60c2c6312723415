// The coordinator's typical-client RTTs: one sample per client, so a client repeating itself cannot move the median.
import { describe, expect, it } from 'vitest';
import { RttSamples, rttReportsPerClient } from '../../../server/coordinator/rtt-samples.ts';

describe('RttSamples', () => {
  it('keeps one RTT per client (the least of its recent reports) and takes the median over clients', () => {
    const s = new RttSamples(3);
    expect(s.medianMs('v')).toBeNaN();
    s.note('v', 'a', 10);
    s.note('v', 'b', 20);
    for (let i = 0; i < 50; i++) s.note('v', 'loud', 60_000); // one client, many reports: one sample
    expect(s.medianMs('v')).toBe(20);
    s.note('v', 'a', 12); // a's RTT is the least of its recent reports, 10
    s.note('v', 'c', 14); // over the bound: the least recently reporting client ('b') goes
    expect(s.medianMs('v')).toBe(14); // {loud: 60000, a: 10, c: 14}
    expect(s.latestMs('v', 'a')).toBe(10);
    // A first ping on a link warming up, or one that met a stalled event loop, is not the link: the least of the last few holds.
    for (const ms of [90, 21, 250]) s.note('w', 'a', ms);
    expect(s.latestMs('w', 'a')).toBe(21);
    for (let i = 0; i < rttReportsPerClient; i++) s.note('w', 'a', 90); // ... and a link that really changed moves it
    expect(s.latestMs('w', 'a')).toBe(90);
    s.forget('v');
    expect(s.medianMs('v')).toBeNaN();
  });
});
