// Swarm snapshots for the planning-core tests: the BPRR clustered testbed and seeded random tiny instances.
import type { ServerSpec, SwarmSnapshot } from '../../../core/swarm/index.ts';
import { mulberry32 } from '../../../core/random/index.ts';

const GB = 1e9;

/** algorithms.md §5: BLOOM-176B on 2 × A100-80GB + 7 × MIG 1g.10gb, three clusters, one client per cluster. */
export function bloomClusteredTestbed(lOut = 64, arrivalRatePerS = 0.1): SwarmSnapshot {
  const servers: ServerSpec[] = [];
  for (let i = 0; i < 2; i++) {
    servers.push({ id: `a100-${i}`, memoryBytes: 79 * GB, decodeMsPerBlock: 3.22, prefillMsPerBlock: { perTokenMs: 0.0743, fixedMs: 32.99 }, region: 'A' });
  }
  for (let i = 0; i < 7; i++) {
    servers.push({ id: `mig-${i}`, memoryBytes: 8.2 * GB, decodeMsPerBlock: 16.25, prefillMsPerBlock: { perTokenMs: 0.1041, fixedMs: 206.35 }, region: 'B' });
  }
  const clients = [
    { id: 'c0', region: 'C' },
    { id: 'cA', region: 'A' },
    { id: 'cB', region: 'B' },
  ];
  const rtt: Record<string, Record<string, number>> = {};
  for (const c of clients) {
    rtt[c.id] = Object.fromEntries(servers.map((s) => [s.id, s.region === c.region ? 5 : 100]));
  }
  return {
    // s_c = 2 · 14336 · (20 + 64) tokens · 2 bytes (bf16).
    model: { numBlocks: 70, blockBytes: 1.32 * GB, cacheBytesPerBlock: 2 * 14336 * (20 + lOut) * 2, hiddenSize: 14336 },
    servers,
    clients,
    network: { clientServerRttMs: rtt, messageOverheadMs: 100, prefillOverheadMs: { perTokenMs: 0.7049, fixedMs: 67 } },
    workload: { arrivalRatePerS, meanInputTokens: 20, meanOutputTokens: lOut },
  };
}

/** Options of a random instance. */
export interface RandomInstanceOptions {
  servers: number;
  clients?: number;
  blocks: number;
  /** Memory of every server in units of s_m (random in [min, max] blocks' worth when a range). */
  memoryBlocks: [number, number];
  /** s_c / s_m. */
  cacheRatio?: number;
  equalMemory?: boolean;
  equalSpeed?: boolean;
  arrivalRatePerS?: number;
  concurrentRequests?: number;
}

/** A seeded random snapshot with integer-ish numbers (s_m = 1000 bytes). */
export function randomInstance(seed: number, o: RandomInstanceOptions): SwarmSnapshot {
  const rnd = mulberry32(seed);
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const sm = 1000;
  const sc = Math.round(sm * (o.cacheRatio ?? 0.1));
  const memBlocks = o.equalMemory === true ? o.memoryBlocks[0] : uni(o.memoryBlocks[0], o.memoryBlocks[1]);
  const servers: ServerSpec[] = Array.from({ length: o.servers }, (_, i) => {
    const fast = o.equalSpeed === true ? 5 : uni(1, 20);
    return {
      id: `s${i}`,
      memoryBytes: Math.round((o.equalMemory === true ? memBlocks : uni(o.memoryBlocks[0], o.memoryBlocks[1])) * sm),
      decodeMsPerBlock: fast,
      prefillMsPerBlock: { perTokenMs: fast / 50, fixedMs: fast * 2 },
    };
  });
  const clients = Array.from({ length: o.clients ?? 1 }, (_, i) => ({ id: `c${i}`, weight: 1 + Math.floor(uni(0, 3)) }));
  const rtt: Record<string, Record<string, number>> = {};
  for (const c of clients) rtt[c.id] = Object.fromEntries(servers.map((s) => [s.id, Math.round(uni(2, 80))]));
  const snap: SwarmSnapshot = {
    model: { numBlocks: o.blocks, blockBytes: sm, cacheBytesPerBlock: sc },
    servers,
    clients,
    network: { clientServerRttMs: rtt, messageOverheadMs: 10, prefillOverheadMs: { perTokenMs: 0.5, fixedMs: 20 } },
    workload: { arrivalRatePerS: o.arrivalRatePerS ?? 0.5, meanInputTokens: 20, meanOutputTokens: 32 },
  };
  if (o.concurrentRequests !== undefined) snap.workload.concurrentRequests = o.concurrentRequests;
  return snap;
}
