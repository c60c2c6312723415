// Whole-slot restoration: volunteers move towards the proposal only when the spans in force lost every whole-slot chain and the proposal has one.
import { describe, expect, it } from 'vitest';
import { holdsWholeSlot, wholeSlotMoves, type WholeSlotInput } from '../../../core/dispatch/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';

// 4 blocks of 100 kB; a whole slot is 16 kB per block. Each volunteer has 450 kB: all 4 blocks leave 50 kB (3 slots,
// so a session over all 4 blocks cannot keep a whole slot); 2 blocks leave 250 kB (15 slots).
const model = { numBlocks: 4, blockBytes: 100_000, cacheBytesPerBlock: 16_000 };
const memoryOf = (): number => 450_000;
const span = (start: number, end: number): BlockSpan => ({ start, end });

function input(spans: Record<string, BlockSpan | null>, proposed: Record<string, BlockSpan | null>, over: Partial<WholeSlotInput> = {}): WholeSlotInput {
  return {
    model,
    spans: new Map(Object.entries(spans)),
    proposed: new Map(Object.entries(proposed)),
    memoryOf,
    activeSessions: () => 0,
    maxMoves: 2,
    exclude: new Set(),
    ...over,
  };
}

describe('whole-slot restoration', () => {
  it('tells whether some chain keeps a whole slot on every hop', () => {
    expect(holdsWholeSlot(model, new Map([['a', span(0, 4)]]), memoryOf)).toBe(false);
    expect(holdsWholeSlot(model, new Map([['a', span(0, 2)], ['b', span(2, 4)]]), memoryOf)).toBe(true);
    // A hop runs its volunteer to its span's end: `a` over [0, 4) cannot stop at block 2.
    expect(holdsWholeSlot(model, new Map([['a', span(0, 4)], ['b', span(2, 4)]]), memoryOf)).toBe(false);
  });

  it('moves the volunteer that took every block alone to its proposed half once a second one serves the other', () => {
    const moves = wholeSlotMoves(input({ a: span(0, 4), b: span(2, 4) }, { a: span(0, 2), b: span(2, 4) }));
    expect(moves).toEqual([{ peerId: 'a', span: span(0, 2) }]);
  });

  it('moves nobody when the spans already hold a whole slot, when the proposal holds none either, or with no budget', () => {
    expect(wholeSlotMoves(input({ a: span(0, 2), b: span(2, 4) }, { a: span(0, 4), b: span(0, 4) }))).toEqual([]);
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(0, 4) }, { a: span(0, 4), b: span(0, 4) }))).toEqual([]);
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(2, 4) }, { a: span(0, 2), b: span(2, 4) }, { maxMoves: 0 }))).toEqual([]);
  });

  it('never uncovers a block, and moves nobody when the budget cannot restore a whole slot', () => {
    // Only `a` holds blocks 0–1: moving it first to its proposed [2, 4) would uncover them, so `b` moves instead.
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(2, 4) }, { a: span(2, 4), b: span(0, 2) }, { maxMoves: 1 }))).toEqual([{ peerId: 'b', span: span(0, 2) }]);
    // With 416 kB all 4 blocks leave one slot, so both must move; one move is not enough and nobody moves.
    const tight = { memoryOf: (): number => 416_000 };
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(0, 4) }, { a: span(0, 2), b: span(2, 4) }, { ...tight, maxMoves: 1 }))).toEqual([]);
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(0, 4) }, { a: span(0, 2), b: span(2, 4) }, tight))).toEqual([
      { peerId: 'a', span: span(0, 2) },
      { peerId: 'b', span: span(2, 4) },
    ]);
  });

  it('moves the volunteer with fewer sessions first and leaves out those already changed this round', () => {
    const busyA = { activeSessions: (id: string): number => (id === 'a' ? 2 : 0) };
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(0, 4) }, { a: span(0, 2), b: span(2, 4) }, busyA)).map((m) => m.peerId)).toEqual(['b', 'a']);
    expect(wholeSlotMoves(input({ a: span(0, 4), b: span(2, 4) }, { a: span(0, 2), b: span(2, 4) }, { exclude: new Set(['a']) }))).toEqual([]);
    // A volunteer the proposal leaves idle is not sent idle on the way (it would end its sessions and add no chain).
    const idleToo = wholeSlotMoves(input({ aa: span(0, 4), b: span(0, 4), c: span(2, 4) }, { aa: null, b: span(0, 2), c: span(2, 4) }));
    expect(idleToo).toEqual([{ peerId: 'b', span: span(0, 2) }]);
  });
});
