// The feasible-link DAG: index translation, shortest chains against brute force, and GCA's cache allocation.
import { describe, expect, it } from 'vitest';
import { allocateCache, chainCostMs, enumerateChains, shortestChain, type PlacedSpanWithSlots } from '../../../core/chains/index.ts';
import type { LinkCostMs } from '../../../core/perf/index.ts';
import { mulberry32 } from '../../../core/random/index.ts';

const spans = (...xs: [string, number, number][]): PlacedSpanWithSlots[] =>
  xs.map(([serverId, start, end]) => ({ serverId, span: { start, end }, cacheSlots: 10 }));

describe('feasible links (0-based, exclusive ends)', () => {
  it('a hop runs [end_i, end_j) and needs start_j ≤ end_i < end_j', () => {
    // a holds 0..2, b holds 2..4 (overlap at block 2), c holds 3..5; L = 5.
    const placed = spans(['a', 0, 3], ['b', 2, 5], ['c', 3, 5]);
    const chains = enumerateChains(placed, 5).map((c) => c.hops.map((h) => `${h.serverId}[${h.span.start},${h.span.end})`).join(' '));
    expect(chains.sort()).toEqual(['a[0,3) b[3,5)', 'a[0,3) c[3,5)']);
  });
  it('no chain when a block is uncovered or the first server does not start at block 0', () => {
    expect(shortestChain(spans(['a', 0, 2], ['b', 3, 5]), 5, () => 1)).toBeNull();
    expect(shortestChain(spans(['a', 1, 5]), 5, () => 1)).toBeNull();
  });
  it('the sink needs end = L: a span past L is clipped, one short of L is not a sink', () => {
    expect(shortestChain(spans(['a', 0, 4]), 5, () => 1)).toBeNull();
    expect(shortestChain(spans(['a', 0, 9]), 5, () => 1)?.hops[0]?.span).toEqual({ start: 0, end: 5 });
  });
  it('passes k_ij and isFirst to the cost and honours the link filter', () => {
    const seen: string[] = [];
    const cost: LinkCostMs = (id, k, first) => {
      seen.push(`${id}:${k}:${first ? 'first' : ''}`);
      return k;
    };
    const placed = spans(['a', 0, 3], ['b', 1, 5]);
    const chain = shortestChain(placed, 5, cost);
    expect(chain?.hops.map((h) => h.serverId)).toEqual(['a', 'b']);
    expect(seen).toContain('b:2:');
    expect(seen).toContain('a:3:first');
    expect(shortestChain(placed, 5, cost, (id) => id !== 'b')).toBeNull();
  });
});

describe('shortestChain is the minimum over all chains (brute force)', () => {
  it('on 300 random placements with random server costs', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed);
      const L = 2 + Math.floor(rnd() * 7);
      const J = 1 + Math.floor(rnd() * 7);
      const placed: PlacedSpanWithSlots[] = [];
      const fixed = new Map<string, number>();
      const perBlock = new Map<string, number>();
      for (let j = 0; j < J; j++) {
        const start = Math.floor(rnd() * L);
        const end = start + 1 + Math.floor(rnd() * (L - start));
        placed.push({ serverId: `s${j}`, span: { start, end }, cacheSlots: 5 });
        fixed.set(`s${j}`, Math.round(rnd() * 50));
        perBlock.set(`s${j}`, Math.round(rnd() * 20));
      }
      const cost: LinkCostMs = (id, k, first) => (fixed.get(id) ?? 0) + (perBlock.get(id) ?? 0) * k + (first ? 3 : 0);
      const all = enumerateChains(placed, L);
      const best = Math.min(...all.map((c) => chainCostMs(c, cost)));
      const found = shortestChain(placed, L, cost);
      if (all.length === 0) {
        expect(found).toBeNull();
      } else {
        expect(found).not.toBeNull();
        if (found !== null) expect(chainCostMs(found, cost)).toBeCloseTo(best, 9);
      }
    }
  });
});

describe('allocateCache (GCA)', () => {
  const cost: LinkCostMs = (id, k) => ({ a: 1, b: 2, c: 5 })[id as 'a' | 'b' | 'c'] * k + 10;
  it('gives the fastest chain min ⌊M̃_j / k_ij⌋ sessions, then the next, until source and sink disconnect', () => {
    const placed: PlacedSpanWithSlots[] = [
      { serverId: 'a', span: { start: 0, end: 2 }, cacheSlots: 7 },
      { serverId: 'b', span: { start: 2, end: 4 }, cacheSlots: 4 },
      { serverId: 'c', span: { start: 1, end: 4 }, cacheSlots: 9 },
    ];
    const chains = allocateCache(placed, 4, cost);
    // a→b: k = 2, 2; capacity min(⌊7/2⌋, ⌊4/2⌋) = 2; a left 3, b left 0.
    // a→c (c runs 2 blocks): capacity min(⌊3/2⌋, ⌊9/2⌋) = 1; a left 1: no link from the source fits (a needs 2).
    expect(chains.map((c) => [c.chain.hops.map((h) => h.serverId).join('>'), c.capacity])).toEqual([
      ['a>b', 2],
      ['a>c', 1],
    ]);
    expect(chains[0]?.serviceMs).toBe(2 * 1 + 10 + 2 * 2 + 10);
  });
  it('never books more slots than a server has, serves chains fastest first, and leaves no chain that still fits', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = mulberry32(1000 + seed);
      const L = 2 + Math.floor(rnd() * 6);
      const J = 2 + Math.floor(rnd() * 6);
      const placed: PlacedSpanWithSlots[] = [];
      const speed = new Map<string, number>();
      for (let j = 0; j < J; j++) {
        const start = Math.floor(rnd() * L);
        const end = start + 1 + Math.floor(rnd() * (L - start));
        placed.push({ serverId: `s${j}`, span: { start, end }, cacheSlots: Math.floor(rnd() * 12) });
        speed.set(`s${j}`, 1 + Math.floor(rnd() * 9));
      }
      const c: LinkCostMs = (id, k) => (speed.get(id) ?? 1) * k + 5;
      const chains = allocateCache(placed, L, c);
      const used = new Map<string, number>();
      let last = -Infinity;
      for (const ch of chains) {
        expect(ch.capacity).toBeGreaterThanOrEqual(1);
        expect(ch.serviceMs).toBeGreaterThanOrEqual(last - 1e-9);
        last = ch.serviceMs;
        for (const h of ch.chain.hops) used.set(h.serverId, (used.get(h.serverId) ?? 0) + ch.capacity * (h.span.end - h.span.start));
      }
      const left = new Map(placed.map((p) => [p.serverId, p.cacheSlots - (used.get(p.serverId) ?? 0)]));
      for (const v of left.values()) expect(v).toBeGreaterThanOrEqual(0);
      expect(enumerateChains(placed, L, (id, k) => (left.get(id) ?? 0) >= k)).toEqual([]);
    }
  });
});
