// Benchmark of the planning and simulation code: prints measured figures (npm run bench:sim).
import { cpus } from 'node:os';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import { median } from '../../core/stats/index.ts';
import { placeBlocks } from '../../core/placement/index.ts';
import { allocateCache } from '../../core/chains/index.ts';
import { jobLinkCostMs, serverJobCosts } from '../../core/perf/index.ts';
import { jffcRouting, wsRrRouting } from '../../core/routing/index.ts';
import { generateRequests, seededRandom, simulate, streamRandom } from '../../sim/index.ts';

/** A synthetic heterogeneous swarm: `n` servers over `numBlocks` blocks, three regions, one client per region. */
function syntheticSwarm(n: number, numBlocks: number, seed: number): SwarmSnapshot {
  const random = seededRandom(seed);
  const regions = ['r0', 'r1', 'r2'];
  const servers = Array.from({ length: n }, (_, i) => {
    const fast = random.next() < 0.2;
    return {
      id: `s${i}`,
      region: regions[i % 3] ?? 'r0',
      memoryBytes: Math.round((fast ? 24e9 : 4e9) * (0.6 + 0.8 * random.next())),
      decodeMsPerBlock: (fast ? 1 : 6) * (0.6 + 0.8 * random.next()),
      prefillMsPerBlock: { perTokenMs: fast ? 0.01 : 0.06, fixedMs: 2 },
    };
  });
  const rtt: Record<string, Record<string, number>> = {};
  for (const c of regions) {
    const row: Record<string, number> = {};
    for (const s of servers) row[s.id] = s.region === c ? 10 + 20 * random.next() : 80 + 60 * random.next();
    rtt[`client-${c}`] = row;
  }
  return {
    model: { numBlocks, blockBytes: 200e6, cacheBytesPerBlock: 4e6, hiddenSize: 4096 },
    servers,
    clients: regions.map((r) => ({ id: `client-${r}`, region: r })),
    network: { clientServerRttMs: rtt, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 10 } },
    workload: { arrivalRatePerS: 20, meanInputTokens: 256, meanOutputTokens: 64 },
  };
}

async function main(): Promise<void> {
  console.log(`bench:sim on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}; one thread`);

  const big = syntheticSwarm(1000, 80, 1);
  // The first call includes V8's warm-up (parsing, JIT tier-up of the CG-BP loops and the solver
  // glue); it is reported on its own, next to the warm median, and never dropped silently.
  let t0 = performance.now();
  let bprr = await placeBlocks('bprr', big);
  const firstPlaceMs = performance.now() - t0;
  const placeTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    t0 = performance.now();
    bprr = await placeBlocks('bprr', big);
    placeTimes.push(performance.now() - t0);
  }
  console.log(
    `bprr placement, 1000 servers × 80 blocks: first call ${firstPlaceMs.toFixed(1)} ms (cold: includes JIT warm-up), then ${median(placeTimes).toFixed(1)} ms median of 5 warm calls (min ${Math.min(...placeTimes).toFixed(1)}, max ${Math.max(...placeTimes).toFixed(1)}) (target < 100 ms); R = ${bprr.reservedSessions ?? '?'}`,
  );

  const mid = syntheticSwarm(200, 80, 2);
  const midPlacement = await placeBlocks('petals', mid);
  const cost = jobLinkCostMs(serverJobCosts(mid, mid.workload.meanInputTokens, mid.workload.meanOutputTokens));
  const gcaTimes: number[] = [];
  let chains = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    chains = allocateCache(midPlacement.assignments, 80, cost).length;
    gcaTimes.push(performance.now() - t0);
  }
  console.log(`GCA over 200 servers (petals placement, 80 blocks): ${median(gcaTimes).toFixed(1)} ms median of 3, ${chains} chains (target < 1 s)`);

  const requests = generateRequests(
    { process: 'poisson', ratePerS: 20, inputTokens: 256, outputTokens: 64, count: 100_000 },
    big.clients,
    streamRandom(1, 'arrivals'),
  );
  for (const routing of [jffcRouting(), wsRrRouting()]) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = simulate({ swarm: big, placement: bprr, routing, requests, random: streamRandom(1, 'churn') });
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `simulate 100,000 requests over 1000 servers (bprr + ${routing.name}): ${(wall / 1000).toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU (target < 30 s), ${r.metrics.events} events, ${r.metrics.finished} finished, mean response ${(r.metrics.responseMs.mean / 1000).toFixed(2)} s, routing ${(r.timing.routingMsTotal / r.timing.routingCalls).toFixed(3)} ms/call`,
    );
  }
}

await main();
