// Bouquet's placement: spare spans for the servers GBP-CR leaves idle, with GBP-CR's own chains kept as they are.
import { describe, expect, it } from 'vitest';
import { bouquet, gbpCr, type PlacementResult } from '../../../core/placement/index.ts';
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
