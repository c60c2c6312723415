// Bouquet's placement: spare spans for the servers GBP-CR leaves idle, with GBP-CR's own chains kept as they are.
import { describe, expect, it } from 'vitest';
import { bouquet, gbpCr, type ChainCapacity, type PlacementResult } from '../../../core/placement/index.ts';
import type { SwarmSnapshot } from '../../../core/swarm/index.ts';
import { randomInstance } from './fixtures.ts';

/** How many servers hold each block. */
function holders(result: PlacementResult, numBlocks: number): number[] {
  const count = new Array<number>(numBlocks).fill(0);
  for (const a of result.assignments) if (a.span !== null) for (let b = a.span.start; b < a.span.end; b++) count[b] = (count[b] ?? 0) + 1;
  return count;
}

const chainKey = (c: NonNullable<PlacementResult['chains']>[number]): string => c.chain.hops.map((h) => `${h.serverId}[${h.span.start},${h.span.end})`).join(' ');

describe('bouquet placement: spare spans', () => {
  // A small swarm at low load, as a live swarm of a few tabs is: GBP-CR's chains carry λ long before every server is used.
  const lowLoad = (seed: number): SwarmSnapshot => randomInstance(seed, { servers: 6, blocks: 8, memoryBlocks: [4, 10], arrivalRatePerS: 0.01 });

  it('gives every server GBP-CR leaves idle a span, so each block has a second holder, and keeps GBP-CR\'s chains first in line', async () => {
    let sawIdle = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const swarm = lowLoad(seed);
      const paper = await bouquet({ spareSpans: false })(swarm);
      const ours = await bouquet()(swarm);
      const idle = paper.assignments.filter((a) => a.span === null).length;
      if (idle === 0) continue;
      sawIdle++;
      // Every server that can hold a block now holds one; the plan's own servers keep their spans.
      expect(ours.assignments.filter((a) => a.span === null).length).toBe(0);
      for (const a of paper.assignments) if (a.span !== null) expect(ours.assignments.find((b) => b.serverId === a.serverId)?.span).toEqual(a.span);
      expect(Math.min(...holders(ours, swarm.model.numBlocks))).toBeGreaterThanOrEqual(2);
      // The plan's chains are all still there, with their capacities; spare chains only add to them.
      const kept = new Map((ours.chains ?? []).map((c) => [chainKey(c), c.capacity]));
      for (const c of paper.chains ?? []) expect(kept.get(chainKey(c))).toBe(c.capacity);
      expect((ours.chains ?? []).length).toBeGreaterThan((paper.chains ?? []).length);
      expect(ours.reservedSessions).toBe(paper.reservedSessions);
    }
    expect(sawIdle).toBeGreaterThanOrEqual(10);
  });

  it('without the option it places as GBP-CR does (the paper\'s idle servers stay idle)', async () => {
    const swarm = lowLoad(3);
    const paper = await gbpCr()(swarm);
    const off = await bouquet({ spareSpans: false })(swarm);
    expect(off.assignments.map((a) => a.span)).toEqual(paper.assignments.map((a) => a.span));
    expect(paper.assignments.some((a) => a.span === null)).toBe(true);
  });

  it('changes nothing when GBP-CR already uses every server (high load)', async () => {
    const swarm = randomInstance(5, { servers: 6, blocks: 8, memoryBlocks: [4, 10], arrivalRatePerS: 1e6 });
    const off = await bouquet({ spareSpans: false })(swarm);
    const on = await bouquet()(swarm);
    expect(off.assignments.every((a) => a.span !== null)).toBe(true);
    expect(on.assignments).toEqual(off.assignments);
    expect(on.chains).toEqual(off.chains);
  });
});

describe('bouquet placement: c counted in declared-length sessions', () => {
  // Slots of 1024 tokens (s_c = 1024 · 2 · kv_dim 4 · 2 bytes); requests declare 640 tokens, so a
  // session holds 40 of a slot's 64 token blocks (1.6 sessions per slot). `big` holds all 4 blocks
  // next to one 640-token session (4 · (100 000 + 10 240) = 440 960 bytes) but not next to a whole
  // slot (4 · 116 384 = 465 536), the browser-swarm laptops of 3.98–4.18 GB in miniature.
  const declaredSwarm = (): SwarmSnapshot => ({
    model: { numBlocks: 4, blockBytes: 100_000, cacheBytesPerBlock: 16_384, kvDim: 4, cacheBytesPerValue: 2 },
    servers: [
      { id: 'big', memoryBytes: 445_000, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.01, fixedMs: 1 } },
      { id: 'a', memoryBytes: 300_000, decodeMsPerBlock: 6, prefillMsPerBlock: { perTokenMs: 0.01, fixedMs: 1 } },
      { id: 'b', memoryBytes: 300_000, decodeMsPerBlock: 6, prefillMsPerBlock: { perTokenMs: 0.01, fixedMs: 1 } },
    ],
    clients: [{ id: 'c' }],
    network: { clientServerRttMs: { c: { big: 30, a: 30, b: 30 } }, messageOverheadMs: 5, prefillOverheadMs: { perTokenMs: 0, fixedMs: 0 } },
    workload: { arrivalRatePerS: 0.001, meanInputTokens: 512, meanOutputTokens: 128, meanDeclaredTokens: 640 },
  });

  it('gives a volunteer every block when one declared-length session fits beside them, a one-hop chain', async () => {
    const swarm = declaredSwarm();
    const ours = await bouquet()(swarm);
    const big = ours.assignments.find((a) => a.serverId === 'big');
    expect(big?.span).toEqual({ start: 0, end: 4 });
    // Its cache is counted on the real model (whole 16 384-byte slots), and the placement says how
    // many sessions one slot carries so that chains rebuilt over these spans count sessions too.
    expect(big?.cacheSlots).toBe(Math.floor((445_000 - 4 * 100_000) / 16_384));
    expect(ours.sessionsPerSlot).toBeCloseTo(1.6, 12);
    expect(ours.chains?.some((c) => c.chain.hops.length === 1 && c.chain.hops[0]?.serverId === 'big' && c.capacity >= 1)).toBe(true);
  });

  it('counting c in whole slots (sessionUnits: false) leaves it a block short and the chain a second hop', async () => {
    const whole = await bouquet({ sessionUnits: false })(declaredSwarm());
    const big = whole.assignments.find((a) => a.serverId === 'big');
    expect(big?.span?.end !== undefined && big.span.end - big.span.start).toBe(3);
    expect(whole.chains?.some((c) => c.chain.hops.length === 1 && c.chain.hops[0]?.serverId === 'big')).toBe(false);
  });

  it('plans in whole slots when no listed chain in sessions would hold the longest declaration, and whole slots give one', async () => {
    // `a` and `b` hold 2 blocks beside two 640-token sessions (2 · 10 240 ≤ 25 000) but not beside one
    // whole slot (2 · 16 384), so in sessions no chain keeps a whole slot on every hop.
    const swarm = declaredSwarm();
    swarm.servers = swarm.servers.map((s) => (s.id === 'big' ? s : { ...s, memoryBytes: 225_000 }));
    const result = await bouquet()(swarm);
    const slots = new Map(result.assignments.map((a) => [a.serverId, a.cacheSlots]));
    const holdsWholeSlot = (c: ChainCapacity): boolean => c.chain.hops.every((h) => (slots.get(h.serverId) ?? 0) >= h.span.end - h.span.start);
    expect(result.chains?.some(holdsWholeSlot)).toBe(true);
    const wholeSlots = await bouquet({ sessionUnits: false })(swarm);
    expect(result.assignments).toEqual(wholeSlots.assignments);
  });

  it('serves the declarations a swarm can hold when whole slots cannot place it at all', async () => {
    // `big` alone: all 4 blocks beside one 640-token session, not beside a whole slot, and nobody to share the model with.
    const alone = { ...declaredSwarm(), servers: declaredSwarm().servers.filter((s) => s.id === 'big') };
    await expect(bouquet({ sessionUnits: false })(alone)).rejects.toMatchObject({ code: 'infeasible' });
    const result = await bouquet()(alone);
    expect(result.assignments).toEqual([expect.objectContaining({ serverId: 'big', span: { start: 0, end: 4 } })]);
    expect(result.chains?.some((c) => c.chain.hops.length === 1 && c.capacity >= 1)).toBe(true);
    // No chain holds a whole slot: a longest declaration has no route there (core/routing), not a place at the queue head.
    const slots = new Map(result.assignments.map((a) => [a.serverId, a.cacheSlots]));
    expect(result.chains?.some((c) => c.chain.hops.every((h) => (slots.get(h.serverId) ?? 0) >= h.span.end - h.span.start))).toBe(false);
    // Too small even for one session beside the model: still infeasible.
    const tiny = { ...alone, servers: alone.servers.map((s) => ({ ...s, memoryBytes: 405_000 })) };
    await expect(bouquet()(tiny)).rejects.toMatchObject({ code: 'infeasible' });
  });

  it('plans exactly as before when requests declare nothing (one session per slot)', async () => {
    const swarm = declaredSwarm();
    delete swarm.workload.meanDeclaredTokens;
    const on = await bouquet()(swarm);
    const off = await bouquet({ sessionUnits: false })(swarm);
    expect(on.assignments).toEqual(off.assignments);
    expect(on.chains).toEqual(off.chains);
    expect(on.sessionsPerSlot).toBeUndefined();
  });
});
