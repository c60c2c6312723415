// `bouquet volunteer --budget-mb N` means what a tab's budget means: the process registers what the Node runtime's measured costs leave of N, and its peak RSS above its start stays within N while it serves a chat.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeMemoryCosts, budgetBytesFor } from '../../core/model/index.ts';
import { writeSyntheticCheckpoint, type SyntheticCheckpointShape } from '../../tools/bench/synthetic-checkpoint.ts';
import { startNodeClient, startNodeVolunteer } from '../../tools/node-peer/index.ts';
import { processPeakBytes } from './renderer-memory.ts';
import { startBouquet, stopBouquet, stories260K, until, type BouquetProcess } from './swarm-support.ts';

const MiB = 2 ** 20;
/** One block of the split-model test's shape (12.8M parameters, 49 MiB in fp32): the weights, not the runtime, are most of the budget. */
const shape: SyntheticCheckpointShape = { numBlocks: 1, hiddenSize: 1024, ffnSize: 2816, numHeads: 16, vocabSize: 512, maxSeqLen: 64 };
/** As the split-model test's: the constants bound every measured run by a few per cent; when V8 collects moves a peak by more. */
const peakTolerance = 0.1;

interface SwarmLite {
  model: { blockBytes: number; cacheBytesPerBlock: number; numBlocks: number };
  volunteers: { state: string; span: { start: number; end: number } | null; assignedSpan: unknown; memoryBytes: number }[];
  placement: { uncoveredBlocks: number[] };
}

describe('a Node volunteer\'s memory budget', () => {
  let dir = '';
  let serve: BouquetProcess | undefined;
  let volunteer: BouquetProcess | undefined;
  afterAll(async () => {
    if (volunteer !== undefined) await stopBouquet(volunteer);
    if (serve !== undefined) await stopBouquet(serve);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('startNodeVolunteer refuses a budget beside memoryBytes, or one below the runtime\'s own share, before any network', async () => {
    const origin = 'http://127.0.0.1:9';
    await expect(startNodeVolunteer({ origin, memoryBytes: MiB, budgetBytes: 1024 * MiB })).rejects.toMatchObject({ code: 'bad-argument' });
    await expect(startNodeVolunteer({ origin, budgetBytes: runtimeMemoryCosts.node.fixedBytes })).rejects.toMatchObject({ code: 'bad-argument' });
  });

  it('registers less than its budget, and its peak RSS above its start stays within the budget while it serves a chat', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bouquet-node-budget-'));
    const model = path.join(dir, 'synthetic-1');
    await writeSyntheticCheckpoint(model, shape, path.join(stories260K, 'tok512.bin'));
    serve = startBouquet(['serve', '--port', '0', '--model', model, '--max-session-tokens', '64', '--state-dir', path.join(dir, 'server'), '--log-level', 'warn']);
    const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
    await until('bouquet serve to listen', () => Promise.resolve(listening.test(serve?.log() ?? '')), 30_000);
    const url = listening.exec(serve.log())?.[1] ?? '';
    const swarm = async (): Promise<SwarmLite> => (await (await fetch(`${url}/api/swarm`)).json()) as SwarmLite;
    const info = (await swarm()).model;
    // The budget for the whole model and 8 sessions' cache at the Node runtime's measured cost.
    const need = info.numBlocks * info.blockBytes + 8 * info.cacheBytesPerBlock;
    const budgetBytes = budgetBytesFor(need, 'node');
    volunteer = startBouquet(['volunteer', '--server', url, '--backend', 'wasm', '--budget-mb', String(budgetBytes / MiB), '--state-dir', path.join(dir, 'v'), '--drain-ms', '0']);
    await until('the volunteer to serve every block', async () => {
      const s = await swarm();
      return s.volunteers.length === 1 && s.placement.uncoveredBlocks.length === 0 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan));
    }, 60_000).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; volunteer: ${volunteer?.log().slice(-600) ?? ''}`);
    });
    // What the coordinator's registry holds: enough for what the budget was sized for, a fraction of the budget itself
    // (as given with --memory-mb, the budget would be M_j), and the runtime's cost of it within the budget.
    const registered = (await swarm()).volunteers[0]?.memoryBytes ?? NaN;
    const c = runtimeMemoryCosts.node;
    expect(registered).toBeGreaterThanOrEqual(need);
    expect(registered).toBeLessThan(budgetBytes / 2);
    expect(c.fixedBytes + c.bytesPerWeightByte * registered).toBeLessThanOrEqual(budgetBytes);

    const client = await startNodeClient({ origin: url });
    try {
      const r = await client.generate({ prompt: 'Once upon a time', maxNewTokens: 12, seed: 1, sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 } });
      expect(r.ids.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
    const startMiB = Number(/rss before the runtime ([\d.]+) MiB/.exec(volunteer.log())?.[1] ?? NaN);
    const aboveStartBytes = processPeakBytes(volunteer.child.pid ?? -1) - startMiB * MiB;
    console.log(`node budget: ${(budgetBytes / MiB).toFixed(0)} MiB, registers ${(registered / MiB).toFixed(1)} MiB; peak RSS ${(aboveStartBytes / MiB).toFixed(0)} MiB above its start (${startMiB} MiB) = ${(aboveStartBytes / budgetBytes).toFixed(2)}× the budget`);
    // The weights really live in the process, and the process's peak stays within the budget its person gave it.
    expect(aboveStartBytes).toBeGreaterThan(info.numBlocks * info.blockBytes);
    expect(aboveStartBytes).toBeLessThanOrEqual(budgetBytes * (1 + peakTolerance));
  }, 90_000);
});
