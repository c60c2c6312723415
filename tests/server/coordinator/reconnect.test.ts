// A network change drops every volunteer's socket at once: they come back one by one with their loaded spans, and
// placement waits for them (reconnect grace) instead of moving the first ones back onto the others' blocks.
import { afterEach, describe, expect, it } from 'vitest';
import type { AssignmentMessage } from '../../../core/api/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';
import type { BouquetServer } from '../../../server/index.ts';
import { budget, TestServers, TestVolunteer, until } from '../helpers.ts';
import { servingAll } from '../swarm-api.ts';

// Joins within 100 ms share one placement run: the three first joins, sent together, are placed together, as loaded.
// The grace is sized for a loaded 2-core machine, where one scripted join can take seconds (the product's default is 2 s).
const swarm = new TestServers({ coordinator: { keyBoundPeerIds: false, heartbeatTimeoutMs: 60_000, placementDelayMs: 100, reconnectGraceMs: 4000 } });
afterEach(() => swarm.cleanUp());

// Two volunteers on the first three blocks, one on the last three: with only a and b back, blocks 3–4 have nobody.
const spans: Record<string, BlockSpan> = { a: { start: 0, end: 3 }, b: { start: 0, end: 3 }, c: { start: 2, end: 5 } };

/** Three volunteers serving their spans, whose sockets are then cut without a goodbye; they come back `apartMs` apart. */
async function dropAndReturn(reconnectGraceMs: number | undefined, apartMs: number): Promise<{ back: TestVolunteer[]; s: BouquetServer }> {
  const s = await swarm.start({ coordinator: reconnectGraceMs === undefined ? {} : { reconnectGraceMs } });
  await swarm.joinTogether(s, Object.entries(spans).map(([peerId, span]) => ({ peerId, memoryBytes: budget(3, 4), loadedSpan: span })));
  await servingAll(s, { count: 3, timeoutMs: 30_000 });
  expect(Object.fromEntries(s.coordinator.state().volunteers.map((v) => [v.peerId, v.span]))).toEqual(spans);
  for (const v of swarm.volunteers) v.ws.terminate();
  await until(() => s.coordinator.state().volunteers.length === 0, 5000, 'the dropped volunteers gone');
  const back: TestVolunteer[] = [];
  for (const [peerId, span] of Object.entries(spans)) {
    back.push(await swarm.join(s, { peerId, memoryBytes: budget(3, 4), loadedSpan: span }));
    await new Promise((r) => setTimeout(r, apartMs));
  }
  await servingAll(s, { count: 3, timeoutMs: 30_000 });
  return { back, s };
}

/** Assignments after the 'keep' of the registration that moved the volunteer. */
function moves(v: TestVolunteer): AssignmentMessage[] {
  return v.messages.filter((m): m is AssignmentMessage => m.type === 'assignment' && m.reason !== 'keep');
}

describe('volunteers dropped by a network change', () => {
  it('come back one by one, 300 ms apart, and keep their spans: no placement run moves one while the others are still awaited', async () => {
    const { back, s } = await dropAndReturn(undefined, 300);
    expect(Object.fromEntries(s.coordinator.state().volunteers.map((v) => [v.peerId, v.span]))).toEqual(spans);
    for (const v of back) expect(moves(v)).toEqual([]);
    expect(s.coordinator.state().placement.uncoveredBlocks).toEqual([]);
  });

  it('without the grace (reconnectGraceMs 0) the first ones back are moved onto the blocks of those not back yet', async () => {
    const { back } = await dropAndReturn(0, 300);
    expect(back.flatMap(moves).length).toBeGreaterThan(0);
  });

  it('after a coordinator restart (a fresh coordinator) volunteers returning 300 ms apart with their loaded spans keep them', async () => {
    const s = await swarm.start();
    const back: TestVolunteer[] = [];
    for (const [peerId, span] of Object.entries(spans)) {
      back.push(await swarm.join(s, { peerId, memoryBytes: budget(3, 4), loadedSpan: span }));
      await new Promise((r) => setTimeout(r, 300));
    }
    await servingAll(s, { count: 3, timeoutMs: 30_000 });
    expect(Object.fromEntries(s.coordinator.state().volunteers.map((v) => [v.peerId, v.span]))).toEqual(spans);
    for (const v of back) expect(moves(v)).toEqual([]);
  });

  it('the same volunteers back with their spans are not rebalanced though a fresh proposal differs; a newcomer (churn) lets rebalancing move them', async () => {
    // One holder of blocks 0–1 and two of 2–4: bouquet proposes two on the first blocks (its rebalance rule moves one there after churn).
    const held: Record<string, BlockSpan> = { a: { start: 0, end: 3 }, b: { start: 2, end: 5 }, c: { start: 2, end: 5 } };
    const s = await swarm.start({ coordinator: { reconnectGraceMs: 2000 } });
    const first = await swarm.joinTogether(s, Object.entries(held).map(([peerId, span]) => ({ peerId, memoryBytes: budget(3, 4), loadedSpan: span })));
    await servingAll(s, { count: 3, timeoutMs: 30_000 });
    for (const v of first) v.ws.terminate();
    await until(() => s.coordinator.state().volunteers.length === 0, 5000, 'the dropped volunteers gone');
    const back = await swarm.joinTogether(s, Object.entries(held).map(([peerId, span]) => ({ peerId, memoryBytes: budget(3, 4), loadedSpan: span })));
    await servingAll(s, { count: 3, timeoutMs: 30_000 });
    expect(Object.fromEntries(s.coordinator.state().volunteers.map((v) => [v.peerId, v.span]))).toEqual(held);
    for (const v of [...first, ...back]) expect(moves(v)).toEqual([]);
    // A newcomer is churn: the run that places it may move a covering volunteer to its proposed span.
    await swarm.join(s, { peerId: 'd', memoryBytes: budget(1, 4) });
    await servingAll(s, { count: 4, timeoutMs: 30_000 });
    expect(back.flatMap(moves).some((m) => m.reason === 'rebalance')).toBe(true);
  });

  it('a volunteer that does not come back is replaced once the grace is over, not before', async () => {
    const graceMs = 1000;
    const s = await swarm.start({ coordinator: { reconnectGraceMs: graceMs } });
    const [a, b, c] = await swarm.joinTogether(s, Object.entries(spans).map(([peerId, span]) => ({ peerId, memoryBytes: budget(3, 4), loadedSpan: span })));
    if (a === undefined || b === undefined || c === undefined) throw new Error('three volunteers');
    await servingAll(s, { count: 3, timeoutMs: 30_000 });
    const droppedAt = performance.now();
    c.ws.terminate();
    // One of a and b is moved onto blocks 2–4, which c held.
    const moved = await Promise.race([a, b].map((v) => v.next((m) => m.type === 'assignment' && m.reason !== 'keep' && m.span?.end === 5, 30_000)));
    expect(performance.now() - droppedAt).toBeGreaterThanOrEqual(graceMs - 5);
    expect(moved).toMatchObject({ type: 'assignment', span: spans.c });
    await servingAll(s, { count: 2, timeoutMs: 30_000 });
    expect(s.coordinator.state().placement.uncoveredBlocks).toEqual([]);
  });
});
