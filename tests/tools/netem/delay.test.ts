// The delay tool delays: UDP RTT through an NFQUEUE rule is at least the configured delay, queues are bounded, and stop leaves no rule behind.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isBouquetError } from '../../../core/errors/index.ts';
import { delayUnavailableReason, linkNamespaces, probeUdpRtt, startDelay, withNamespaces } from '../../../tools/netem/index.ts';
import { failInCi } from '../../support/netns.ts';

const unavailable = failInCi(delayUnavailableReason());

function rulesIn(ns: string): string {
  return spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '-S', 'INPUT'], { encoding: 'utf8' }).stdout;
}

describe.skipIf(unavailable !== null)(`delay tool${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('adds at least the configured delay, only to the source it names, and stops cleanly', async () => {
    await withNamespaces(2, async ([a, b]) => {
      if (a === undefined || b === undefined) throw new Error('two namespaces expected');
      linkNamespaces(a, b, '10.231.0.1', '10.231.0.2');
      const before = await probeUdpRtt(a, b, '10.231.0.2', 10, 20);
      // 30 ms on the way in to b, 20 ms on the way back in to a: every RTT is at least 50 ms.
      const toB = await startDelay({ namespace: b, fromCidr: '10.231.0.1', delayMs: 30, queueNum: 7 });
      const toA = await startDelay({ namespace: a, fromCidr: '10.231.0.2', delayMs: 20, queueNum: 7 });
      let delayed: (number | null)[];
      try {
        expect(rulesIn(b)).toContain('NFQUEUE');
        delayed = await probeUdpRtt(a, b, '10.231.0.2', 10, 20);
      } finally {
        await toB.stop();
        await toA.stop();
      }
      const after = await probeUdpRtt(a, b, '10.231.0.2', 10, 20);
      const ms = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
      console.log(`delay tool: RTT before ${median(ms(before)).toFixed(2)} ms, with 30+20 ms ${median(ms(delayed)).toFixed(2)} ms, after ${median(ms(after)).toFixed(2)} ms`);
      expect(ms(delayed)).toHaveLength(10);
      for (const rtt of ms(delayed)) expect(rtt).toBeGreaterThanOrEqual(50);
      // Undelayed traffic is faster than delayed traffic, before and after: the rule is gone after stop.
      expect(Math.min(...ms(before))).toBeLessThan(Math.min(...ms(delayed)));
      expect(ms(after)).toHaveLength(10);
      expect(Math.min(...ms(after))).toBeLessThan(Math.min(...ms(delayed)));
      expect(rulesIn(b)).not.toContain('NFQUEUE');
    });
  }, 60_000);

  it('holds at most maxPackets at once and drops the rest, like netem limit', async () => {
    await withNamespaces(2, async ([a, b]) => {
      if (a === undefined || b === undefined) throw new Error('two namespaces expected');
      linkNamespaces(a, b, '10.232.0.1', '10.232.0.2');
      const delay = await startDelay({ namespace: b, fromCidr: '10.232.0.1', delayMs: 200, queueNum: 3, maxPackets: 8 });
      let rtts: (number | null)[];
      try {
        rtts = await probeUdpRtt(a, b, '10.232.0.2', 40, 0);
      } finally {
        await delay.stop();
      }
      // The kernel's queue is capped at the same length, so the excess is dropped there or in the delayer.
      expect(rtts.filter((r) => r === null).length).toBeGreaterThan(0);
      expect(rtts.filter((r) => r !== null).length).toBeLessThanOrEqual(8);
    });
  }, 60_000);

  it('refuses a bad spec with a coded error', async () => {
    const e: unknown = await startDelay({ namespace: 'x; rm -rf /', fromCidr: '10.0.0.1', delayMs: 10, queueNum: 1 }).catch((err: unknown) => err);
    expect(isBouquetError(e, 'bad-argument')).toBe(true);
  });
});

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}
