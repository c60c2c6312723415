// Bouquet (docs/bouquet.md) against the follow-up on seeded tiny instances, its registry entries, and determinism.
import { describe, expect, it } from 'vitest';
import { placementPolicyFor, policyCombos, resolveCombo, routingPolicyFor } from '../../core/policies/index.ts';
import { sessionsPerSlot } from '../../core/placement/index.ts';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import { fastestServiceMs, responseLowerBound, simulateAsync, streamRandom, type SimConfig } from '../../sim/index.ts';
import { meanResponseMs, tinyRequests, tinySwarm } from './bouquet-fixtures.ts';

describe('bouquet', () => {
  it('is registered as a combo of its own placement and router with admission by declared length, and resolves by name', () => {
    expect(policyCombos.bouquet).toEqual({ placement: 'bouquet', routing: 'bouquet', routingOptions: { ownChains: true }, reservation: 'declared', retune: true, rebalance: true });
    expect(resolveCombo('bouquet').placement).toBe('bouquet');
    expect(resolveCombo('bouquet/jffc')).toEqual({ placement: 'bouquet', routing: 'jffc' });
    expect(routingPolicyFor('bouquet').name).toBe('bouquet');
    expect(routingPolicyFor('bouquet').admission.kind).toBe('central-queue');
    // The ablation: the follow-up's placement and router, admission by declared length alone.
    expect(policyCombos['followup-declared']).toEqual({ placement: 'gbp-cr', routing: 'jffc', reservation: 'declared', routingOptions: { jffcFreeBy: 'cache' } });
    expect(() => resolveCombo('bouquet/nope')).toThrow(expect.objectContaining({ code: 'unknown-policy' }));
  });

  it('plans more sessions per slot for short declarations, one per slot without a declaration', () => {
    const swarm = tinySwarm(3);
    expect(sessionsPerSlot(swarm)).toBe(1);
    // 256-token slots = 16 token blocks; 64 declared tokens = 4 token blocks → 4 sessions per slot.
    expect(sessionsPerSlot({ ...swarm, workload: { ...swarm.workload, meanDeclaredTokens: 64 } })).toBe(4);
    expect(sessionsPerSlot({ ...swarm, workload: { ...swarm.workload, meanDeclaredTokens: 10_000 } })).toBe(1);
  });

  it('is deterministic: the same placement and the same run twice', async () => {
    const swarm = tinySwarm(17);
    const requests = tinyRequests(swarm, 17);
    const planned = { ...swarm, workload: { ...swarm.workload, meanDeclaredTokens: 156 } };
    const a = await placementPolicyFor('bouquet')(planned);
    const b = await placementPolicyFor('bouquet')(planned);
    expect({ ...a, runtimeMs: 0 }).toEqual({ ...b, runtimeMs: 0 });
    expect(await meanResponseMs('bouquet', swarm, requests)).toBe(await meanResponseMs('bouquet', swarm, requests));
  });

  it('is no worse than GBP-CR + JFFC on ≥ 95 % of 200 seeded tiny instances and within 5 % on all, and never beats the relaxed lower bound', async () => {
    let noWorse = 0;
    let better = 0;
    let worst = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const swarm = tinySwarm(seed);
      const requests = tinyRequests(swarm, seed);
      const followup = await meanResponseMs('followup', swarm, requests);
      const ours = await meanResponseMs('bouquet', swarm, requests);
      if (ours <= followup * (1 + 1e-9)) noWorse++;
      if (ours < followup * (1 - 1e-9)) better++;
      worst = Math.max(worst, ours / followup);
      expect(ours).toBeGreaterThanOrEqual(responseLowerBound(swarm, requests).meanMs * (1 - 1e-9));
    }
    expect(noWorse).toBeGreaterThanOrEqual(190);
    // Not a tie by construction: admission by declared length and per-request routing do change runs.
    expect(better).toBeGreaterThanOrEqual(100);
    expect(worst).toBeLessThanOrEqual(1.05);
  });

  it('the relaxed lower bound is the fastest single chain when one server holds the whole model', () => {
    const swarm = tinySwarm(5);
    const big: SwarmSnapshot = { ...swarm, servers: swarm.servers.map((s) => ({ ...s, memoryBytes: 100 * swarm.model.blockBytes })) };
    const c = big.clients[0]?.id ?? '';
    const L = big.model.numBlocks;
    const direct = Math.min(
      ...big.servers.map((s) => {
        const rtt = big.network.clientServerRttMs[c]?.[s.id] ?? 0;
        return rtt + 0.01 * 50 + 5 + 9 * (rtt + 5) + L * (s.prefillMsPerBlock.perTokenMs * 50 + s.prefillMsPerBlock.fixedMs + 9 * s.decodeMsPerBlock);
      }),
    );
    expect(fastestServiceMs(big, c, 50, 10)).toBeCloseTo(direct, 6);
  });

  it('re-tunes re-placements from the workload the run has seen (retune), never from the scenario’s', async () => {
    const swarm = tinySwarm(9);
    // The scenario claims λ 1000/s and 500-token prompts; the requests say otherwise.
    const claimed: SwarmSnapshot = { ...swarm, workload: { ...swarm.workload, arrivalRatePerS: 1000, meanInputTokens: 500 } };
    const requests = tinyRequests(swarm, 9, 80);
    const seen: SwarmSnapshot['workload'][] = [];
    const base = placementPolicyFor('gbp-cr');
    const lastArrivalMs = requests[requests.length - 1]?.arrivalMs ?? 0;
    const run = (retune: boolean): Promise<unknown> => {
      seen.length = 0;
      const cfg: SimConfig = {
        swarm: claimed,
        placement: { assignments: [], policy: 'x', prediction: { perTokenMs: 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } }, runtimeMs: 0 },
        routing: routingPolicyFor('bouquet'),
        requests,
        random: streamRandom(1, 'churn'),
        churnTrace: [{ atMs: lastArrivalMs * 0.9, serverId: 's0', kind: 'server-leave' }, { atMs: lastArrivalMs * 0.95, serverId: 's0', kind: 'server-join' }],
        replacement: (snap) => {
          seen.push(snap.workload);
          return base(snap);
        },
        retune,
      };
      return base(swarm).then((placement) => simulateAsync({ ...cfg, placement }));
    };
    await run(true);
    const measured = seen[0];
    expect(measured?.arrivalRatePerS).toBeLessThan(100);
    const prompts = requests.filter((r) => r.arrivalMs <= lastArrivalMs * 0.9).map((r) => r.inputTokens);
    expect(measured?.meanInputTokens).toBeCloseTo(prompts.reduce((a, b) => a + b, 0) / prompts.length, 6);
    await run(false);
    expect(seen[0]).toEqual(claimed.workload);
  });
});
