// Seeded tiny instances for the bouquet tests.
import { expect } from 'vitest';
import { mulberry32 } from '../../core/random/index.ts';
import { placementPolicyFor, resolveCombo, routingPolicyFor } from '../../core/policies/index.ts';
import type { ServerSpec, SwarmSnapshot } from '../../core/swarm/index.ts';
import { simulate, streamRandom, type SimConfig, type SimRequest } from '../../sim/index.ts';

/** Bytes per token of cache per block in these instances: 2 · hiddenSize 1 · 2 bytes. */
const bytesPerToken = 4;

/** A tiny swarm: 3–6 servers in two regions, 4–8 blocks, slots of 256 tokens, two clients (one per region). */
export function tinySwarm(seed: number): SwarmSnapshot {
  const rnd = mulberry32(seed);
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const numBlocks = 4 + Math.floor(rnd() * 5);
  const blockBytes = 10_000;
  const cacheBytesPerBlock = 256 * bytesPerToken;
  const regions = ['r0', 'r1'];
  const servers: ServerSpec[] = Array.from({ length: 3 + Math.floor(rnd() * 4) }, (_, i) => ({
    id: `s${i}`,
    region: regions[i % 2] as string,
    memoryBytes: Math.round(uni(0.6, 1.4) * numBlocks * blockBytes + uni(2, 12) * cacheBytesPerBlock * numBlocks),
    decodeMsPerBlock: uni(2, 12),
    prefillMsPerBlock: { perTokenMs: uni(0.01, 0.05), fixedMs: uni(1, 5) },
  }));
  const clients = regions.map((r) => ({ id: `c-${r}`, region: r }));
  const near = uni(5, 20);
  const far = uni(40, 120);
  const rtt = Object.fromEntries(clients.map((c) => [c.id, Object.fromEntries(servers.map((s) => [s.id, s.region === c.region ? near : far]))]));
  return {
    model: { numBlocks, blockBytes, cacheBytesPerBlock, hiddenSize: 1, kvDim: 1, cacheBytesPerValue: 2 },
    servers,
    clients,
    network: { clientServerRttMs: rtt, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 5 } },
    workload: { arrivalRatePerS: uni(2, 30), meanInputTokens: 60, meanOutputTokens: 40 },
  };
}

/** Poisson arrivals with variable prompts and outputs; every request declares 96 new tokens (≥ its output). */
export function tinyRequests(swarm: SwarmSnapshot, seed: number, count = 60): SimRequest[] {
  const rnd = mulberry32(seed * 7919 + 1);
  let t = 0;
  return Array.from({ length: count }, (_, id) => {
    t += (-Math.log(1 - rnd()) * 1000) / swarm.workload.arrivalRatePerS;
    return {
      id,
      clientId: (swarm.clients[Math.floor(rnd() * swarm.clients.length)] ?? swarm.clients[0])?.id ?? '',
      arrivalMs: t,
      inputTokens: 20 + Math.floor(rnd() * 80),
      outputTokens: 1 + Math.floor(rnd() * 79),
      maxNewTokens: 96,
    };
  });
}

/** Mean response of a named combo on one instance, ms; the same arrivals for every combo. */
export async function meanResponseMs(name: string, swarm: SwarmSnapshot, requests: SimRequest[]): Promise<number> {
  const combo = resolveCombo(name);
  const planned: SwarmSnapshot =
    combo.reservation === 'declared' ? { ...swarm, workload: { ...swarm.workload, meanDeclaredTokens: 60 + 96 } } : swarm;
  const placement = await placementPolicyFor(combo.placement, combo.placementOptions)(planned);
  const cfg: SimConfig = { swarm: planned, placement, routing: routingPolicyFor(combo.routing, combo.routingOptions), requests, random: streamRandom(1, 'churn') };
  if (combo.reservation !== undefined) cfg.reservation = combo.reservation;
  const r = simulate(cfg);
  expect(r.metrics.finished).toBe(requests.length);
  return r.metrics.responseMs.mean;
}
