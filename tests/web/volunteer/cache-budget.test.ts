// A volunteer's KV cache counted in 16-token blocks: the session host and the real in-thread runtime it starts
// hold the same budget of B token blocks, admit sessions while their declared lengths fit, and refuse the next with cache-full.
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenBlocksFor } from '../../../core/cache/index.ts';
import { FrameLink, MemoryNetwork, PeerError } from '../../../core/protocol/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { SessionHost, inThreadVolunteerRuntime } from '../../../web/volunteer/index.ts';
import type { BlockRuntime } from '../../../worker/runtime/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';

const stories = '../shared/models/stories260K';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof PeerError ? e.code : `not a PeerError: ${String(e)}`;
  }
  return 'no error';
}

describe('volunteer cache budget in token blocks', () => {
  // 3 slots of 40 tokens: 3 token blocks a slot, B = 9 token blocks.
  const cacheSlots = 3;
  const maxSessionTokens = 40;
  const budget = cacheSlots * tokenBlocksFor(maxSessionTokens);
  let runtime: BlockRuntime;
  const starter = { stop: (): Promise<void> => Promise.resolve() };

  beforeAll(async () => {
    const weights = await openModelWeights(folderModelFiles(stories));
    const start = inThreadVolunteerRuntime(ort, weights, { threads: 1, fixedSpeed: { decodeMsPerBlock: 1, prefillMsPerBlock: { perTokenMs: 0, fixedMs: 0 } } });
    runtime = await start.load({ start: 0, end: 5 }, cacheSlots, maxSessionTokens, () => undefined);
    starter.stop = () => start.unload();
  });
  afterAll(() => starter.stop());

  it('admits sessions while their declared lengths fit in token blocks, refuses the next with cache-full, and admits again once one closes', async () => {
    expect(budget).toBe(9);
    const host = new SessionHost(runtime);
    const d = (await runtime.info()).shape.hiddenSize;
    host.setBlocks({ span: { start: 0, end: 5 }, cacheSlots, maxSessionTokens, hiddenSize: d }, runtime);
    expect((await runtime.cacheUsage()).totalTokenBlocks).toBe(budget);
    expect(host.stats()).toMatchObject({ cacheTokenBlocksTotal: budget, cacheTokenBlocksUsed: 0, slotsTotal: 3 });

    const net = new MemoryNetwork();
    net.createTransport('v').onConnection((c) => host.attach(new FrameLink(c)));
    const link = new FrameLink(await net.createTransport('c').connect('v'));
    const open = (sessionId: string, start: number, end: number, maxLength: number): Promise<unknown> =>
      link.request<'open-session'>({ type: 'open-session', sessionId, span: { start, end }, maxLength, dtype: 'fp32' });

    // Whole slots would admit 3 single-block sessions; by declared length, 16-token chats fit 9.
    await open('two-blocks', 0, 2, 40); // 2 × 3 token blocks
    await open('short-a', 4, 5, 10); // 1
    await open('short-b', 2, 3, 16); // 1
    await open('short-c', 3, 4, 3); // 1: all 9 used
    expect(host.stats()).toMatchObject({ cacheTokenBlocksUsed: budget, slotsUsed: 3, activeSessions: 4 });
    expect(await codeOf(open('next', 2, 3, 1))).toBe('cache-full');
    const inRuntime = await runtime.cacheUsage();
    expect([inRuntime.usedTokenBlocks, inRuntime.openSessions]).toEqual([budget, 4]);

    // The admitted sessions run up to their declared length; a step past it is refused, coded, at the client.
    const step = (sessionId: string, stepIndex: number, position: number, rows: number): Promise<{ hidden: { rows: number } }> =>
      link.request<'step'>({ type: 'step', sessionId, stepIndex, position, dtype: 'fp32', hidden: { rows, cols: d, data: new Float32Array(rows * d).fill(0.1) } });
    expect((await step('short-a', 0, 0, 8)).hidden.rows).toBe(8);
    expect(await codeOf(step('short-a', 1, 8, 3))).toBe('sequence-too-long');
    expect((await step('short-a', 1, 8, 2)).hidden.rows).toBe(2);

    await link.request<'close'>({ type: 'close', sessionId: 'short-a' });
    expect(host.stats().cacheTokenBlocksUsed).toBe(8);
    await open('next', 2, 3, 1);
    expect(host.stats().cacheTokenBlocksUsed).toBe(budget);
    expect((await runtime.cacheUsage()).usedTokenBlocks).toBe(budget);
    link.close();
  });
});
