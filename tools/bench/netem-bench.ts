// `npm run bench:netem`: UDP RTT through the packet delay tool (tools/netem) against the configured delay, between two namespaces it makes. Prints figures; asserts nothing.
import { parseArgs } from 'node:util';
import { BouquetError } from '../../core/errors/index.ts';
import { median } from '../../core/stats/index.ts';
import { delayUnavailableReason, linkNamespaces, probeUdpRtt, startDelay, withNamespaces } from '../netem/index.ts';

const { values } = parseArgs({ options: { delays: { type: 'string', default: '0,5,20,50,100' }, probes: { type: 'string', default: '50' } } });
const delays = values.delays.split(',').map(Number);
const probes = Number(values.probes);
const why = delayUnavailableReason();
if (why !== null) {
  console.log(`bench:netem skipped: ${why}`);
} else {
  console.log(`bench:netem — UDP echo between two namespaces (veth), ${probes} probes every 20 ms; each one-way delay is added on both namespaces' INPUT, so RTT ≈ 2 × delay`);
  await withNamespaces(2, async ([a, b]) => {
    if (a === undefined || b === undefined) throw new BouquetError('internal', 'two namespaces expected');
    linkNamespaces(a, b, '10.233.0.1', '10.233.0.2');
    console.log('one-way ms  configured RTT ms  measured RTT p50  min     max     lost  excess p50');
    for (const d of delays) {
      const held = d > 0 ? [await startDelay({ namespace: b, fromCidr: '10.233.0.1', delayMs: d, queueNum: 1 }), await startDelay({ namespace: a, fromCidr: '10.233.0.2', delayMs: d, queueNum: 1 })] : [];
      let rtts: (number | null)[];
      try {
        rtts = await probeUdpRtt(a, b, '10.233.0.2', probes, 20);
      } finally {
        for (const h of held) await h.stop();
      }
      const got = rtts.filter((r): r is number => r !== null);
      const p50 = median(got);
      const row = [String(d).padStart(10), String(2 * d).padStart(17), p50.toFixed(2).padStart(17), Math.min(...got).toFixed(2).padStart(7), Math.max(...got).toFixed(2).padStart(7), String(rtts.length - got.length).padStart(5), (p50 - 2 * d).toFixed(2).padStart(11)];
      console.log(row.join('  '));
    }
  });
}
