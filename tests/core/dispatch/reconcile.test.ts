// Placement reconciliation: keep spans, place newcomers, fill gaps with as few reloads as allowed.
import { describe, expect, it } from 'vitest';
import { reconcilePlacement, uncoveredBy, type PeerPlacementInput } from '../../../core/dispatch/index.ts';

const L = 6;

function peer(p: Partial<PeerPlacementInput> & { peerId: string }): PeerPlacementInput {
  return { current: null, isNew: false, proposed: undefined, maxBlocks: 3, ...p };
}

describe('reconcilePlacement', () => {
  it('gives newcomers the proposed span and keeps existing spans even if the policy would move them', () => {
    const r = reconcilePlacement(
      [
        peer({ peerId: 'a', current: { start: 0, end: 3 }, proposed: { start: 3, end: 6 } }),
        peer({ peerId: 'b', current: { start: 3, end: 6 }, proposed: { start: 0, end: 3 } }),
        peer({ peerId: 'c', isNew: true, proposed: { start: 2, end: 5 } }),
      ],
      L,
      1,
    );
    expect(r.spans.get('a')).toEqual({ start: 0, end: 3 });
    expect(r.spans.get('b')).toEqual({ start: 3, end: 6 });
    expect(r.changes).toEqual([{ peerId: 'c', span: { start: 2, end: 5 }, reason: 'join' }]);
    expect(r.moved).toEqual([]);
    expect(r.uncovered).toEqual([]);
  });

  it('points a newcomer at a gap instead of moving anyone', () => {
    const r = reconcilePlacement(
      [
        peer({ peerId: 'a', current: { start: 0, end: 3 }, proposed: { start: 3, end: 6 } }),
        peer({ peerId: 'c', isNew: true, proposed: { start: 0, end: 3 } }),
      ],
      L,
      1,
    );
    expect(r.spans.get('c')).toEqual({ start: 3, end: 6 });
    expect(r.moved).toEqual([]);
    expect(r.uncovered).toEqual([]);
  });

  it('moves at most maxMoves redundant holders to cover a gap left by a departed volunteer', () => {
    const peers = [
      peer({ peerId: 'a', current: { start: 0, end: 3 } }),
      peer({ peerId: 'b', current: { start: 0, end: 3 }, proposed: { start: 3, end: 6 } }),
      peer({ peerId: 'c', current: { start: 0, end: 3 } }),
    ];
    const one = reconcilePlacement(peers, L, 1);
    expect(one.moved).toEqual(['b']); // b's proposed span covers the gap: preferred
    expect(one.spans.get('b')).toEqual({ start: 3, end: 6 });
    expect(one.changes).toEqual([{ peerId: 'b', span: { start: 3, end: 6 }, reason: 'cover-gap' }]);
    expect(one.uncovered).toEqual([]);

    const none = reconcilePlacement(peers, L, 0);
    expect(none.moved).toEqual([]);
    expect(none.uncovered).toEqual([3, 4, 5]);
  });

  it('moves an idle redundant holder before one that serves sessions (a move ends them)', () => {
    const peers = [
      peer({ peerId: 'a', current: { start: 0, end: 3 }, activeSessions: 2 }),
      peer({ peerId: 'b', current: { start: 0, end: 3 }, proposed: { start: 3, end: 6 }, activeSessions: 1 }),
      peer({ peerId: 'c', current: { start: 0, end: 3 }, activeSessions: 0 }),
    ];
    const r = reconcilePlacement(peers, L, 1);
    expect(r.moved).toEqual(['c']);
    expect(r.spans.get('c')).toEqual({ start: 3, end: 6 });
    expect(r.uncovered).toEqual([]);
  });

  it('never moves the only holder of a block', () => {
    const r = reconcilePlacement(
      [peer({ peerId: 'a', current: { start: 0, end: 3 }, maxBlocks: 6 }), peer({ peerId: 'b', current: { start: 1, end: 3 } })],
      L,
      5,
    );
    // b is redundant ([1,3) is also on a) and moves to the gap; a holds block 0 alone and stays.
    expect(r.spans.get('a')).toEqual({ start: 0, end: 3 });
    expect(r.spans.get('b')).toEqual({ start: 3, end: 6 });
    expect(r.uncovered).toEqual([]);
  });

  it('fills gaps greedily when the policy failed (infeasible) and reports what stays uncovered', () => {
    const r = reconcilePlacement(
      [peer({ peerId: 'a', isNew: true, maxBlocks: 2 }), peer({ peerId: 'b', isNew: true, maxBlocks: 3 }), peer({ peerId: 'z', isNew: true, maxBlocks: 0 })],
      L,
      1,
    );
    expect(r.spans.get('b')).toEqual({ start: 0, end: 3 });
    expect(r.spans.get('a')).toEqual({ start: 3, end: 5 });
    expect(r.spans.get('z')).toBeNull();
    expect(r.uncovered).toEqual([5]);
    expect(r.changes.find((c) => c.peerId === 'z')?.reason).toBe('idle');
  });

  it('uncoveredBy lists the blocks no span holds', () => {
    expect(uncoveredBy([{ start: 0, end: 2 }, null, { start: 4, end: 6 }], L)).toEqual([2, 3]);
  });
});
