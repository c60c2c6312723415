// The placement thread: the exact MILP runs off the coordinator's event loop, answers as the in-process
// policy does, rebuilds errors with their codes, and is restarted when it runs past its deadline.
import { afterEach, describe, expect, it } from 'vitest';
import { InfeasiblePlacementError, UnknownPolicyError, milp } from '../../../core/placement/index.ts';
import { BouquetError } from '../../../core/errors/index.ts';
import { PlacementThread, placementPolicy } from '../../../server/index.ts';
import { randomInstance } from '../../core/placement/fixtures.ts';

const threads: PlacementThread[] = [];
function thread(deadlineMs = 60_000): PlacementThread {
  const t = new PlacementThread(() => deadlineMs);
  threads.push(t);
  return t;
}
afterEach(async () => {
  for (const t of threads.splice(0)) await t.close();
});

/** A swarm too large for the MILP to finish: it works until its time limit. */
const hard = randomInstance(7, { servers: 12, clients: 3, blocks: 24, memoryBlocks: [3, 9], cacheRatio: 0.2, concurrentRequests: 4 });
const small = randomInstance(1, { servers: 3, clients: 2, blocks: 4, memoryBlocks: [1.3, 3.5], cacheRatio: 0.3 });

describe('placement thread', () => {
  it('returns what the in-process MILP returns on a small swarm', async () => {
    const inThread = await placementPolicy('milp', { concurrentRequests: 2, timeLimitMs: 20_000 }, thread())(small);
    const inProcess = await milp({ concurrentRequests: 2, timeLimitMs: 20_000 })(small);
    expect(inThread.milp?.status).toBe('optimal');
    expect(inThread.milp?.objective).toBeCloseTo(inProcess.milp?.objective ?? NaN, 6);
    expect(inThread.prediction.perTokenMs).toBeCloseTo(inProcess.prediction.perTokenMs, 6);
    expect(inThread.assignments.map((a) => a.serverId)).toEqual(small.servers.map((s) => s.id));
  });

  it('keeps the event loop free while the MILP works through its time limit', async () => {
    const timeLimitMs = 1500;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    const t0 = performance.now();
    const answer = await placementPolicy('milp', { timeLimitMs }, thread())(hard).then(
      (r) => `gap ${r.milp?.gap ?? NaN}`,
      (e: unknown) => (e as { code?: string }).code ?? 'no code',
    );
    const elapsedMs = performance.now() - t0;
    clearInterval(timer);
    // It really worked for a while (not an instant answer), and timers kept firing meanwhile.
    expect(elapsedMs).toBeGreaterThan(timeLimitMs * 0.8);
    expect(ticks).toBeGreaterThan((elapsedMs / 50) * 0.5);
    expect(answer).toMatch(/^gap |^no-solution$/);
  });

  it('rebuilds each policy error as the class it was thrown as, with its code and data', async () => {
    const t = thread();
    const tight = { ...small, servers: small.servers.map((s) => ({ ...s, memoryBytes: 1100 })) };
    const infeasible = await t.policy('bprr', { concurrentRequests: 3 })(tight).catch((e: unknown) => e);
    expect(infeasible).toBeInstanceOf(InfeasiblePlacementError);
    expect(infeasible).toMatchObject({ code: 'infeasible', reason: expect.any(String) as string });
    expect((infeasible as InfeasiblePlacementError).data?.reason).toBe((infeasible as InfeasiblePlacementError).reason);
    const unknown = await t.policy('fastest')(small).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownPolicyError);
    expect(unknown).toMatchObject({ code: 'unknown-policy', policy: 'fastest' });
    const badOption = await t.policy('bprr', { concurrentRequests: 0 })(small).catch((e: unknown) => e);
    expect(badOption).toBeInstanceOf(BouquetError);
    expect(badOption).toMatchObject({ code: 'bad-argument' });
  });

  it('rebuilds an infeasible placement as InfeasiblePlacementError with code "infeasible"', async () => {
    const tight = { ...small, servers: small.servers.map((s) => ({ ...s, memoryBytes: 1100 })) };
    const run = placementPolicy('milp', { concurrentRequests: 3 }, thread())(tight);
    await expect(run).rejects.toBeInstanceOf(InfeasiblePlacementError);
    await expect(run).rejects.toMatchObject({ code: 'infeasible' });
  });

  it('restarts a thread that runs past its deadline (code "placement-timeout") and answers the next job', async () => {
    const t = thread(300);
    await expect(placementPolicy('milp', { timeLimitMs: 30_000 }, t)(hard)).rejects.toMatchObject({ code: 'placement-timeout' });
    const next = await t.policy('bprr')(small);
    expect(next.assignments.length).toBe(small.servers.length);
  });

  it('refuses jobs after close (code "closed")', async () => {
    const t = thread();
    await t.close();
    await expect(t.policy('milp')(small)).rejects.toMatchObject({ code: 'closed' });
  });
});
