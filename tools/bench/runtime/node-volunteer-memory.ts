// `npm run bench:node-memory`: what a `bouquet volunteer` process really uses to serve, for models of several sizes: its peak RSS (VmHWM) above its RSS before the runtime loads, against the weights + cache placement counts; the figures behind core/model's runtimeMemoryCosts.node, and each model's worst peak against the budget they give.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BouquetError } from '../../../core/errors/index.ts';
import { runtimeMemoryCosts, budgetBytesFor } from '../../../core/model/index.ts';
import { startNodeClient } from '../../node-peer/index.ts';
import { writeSyntheticCheckpoint, type SyntheticCheckpointShape } from '../synthetic-checkpoint.ts';

const MiB = 2 ** 20;
const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');
const stories260K = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K');
/** The split-model test's block (d 1024, FFN 2816: 12.8M parameters, 49 MiB in fp32), 1, 2 and 4 of them. */
const block: Omit<SyntheticCheckpointShape, 'numBlocks'> = { hiddenSize: 1024, ffnSize: 2816, numHeads: 16, vocabSize: 512, maxSeqLen: 64 };
/** Sessions' cache counted beside the weights (placement's cache reserve: fewer and the last block does not fit). */
const sessions = 8;

interface Proc { child: ChildProcess; log: () => string }
function start(args: string[]): Proc {
  const child = spawn(process.execPath, [bouquet, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
  return { child, log: () => log };
}
async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  const kill = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  p.child.kill('SIGTERM');
  await exited;
  clearTimeout(kill);
}
async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new BouquetError('timeout', `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
/** VmHWM of a live process, bytes. */
function peakRssBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new BouquetError('internal', `no VmHWM for ${pid}`);
  return Number(m[1]) * 1024;
}

interface SwarmLite {
  model: { blockBytes: number; cacheBytesPerBlock: number; numBlocks: number };
  volunteers: { state: string; span: { start: number; end: number } | null; assignedSpan: unknown; memoryBytes: number }[];
  placement: { uncoveredBlocks: number[] };
}

interface Row { name: string; nominalMiB: number; weightMiB: number; peakAboveStartMiB: number; startMiB: number; msPerToken: number }

/** One volunteer process serving every block of `model`, one chat of `tokens` through it. */
async function measure(name: string, model: string, tokens: number, stateDir: string): Promise<Row> {
  const serve = start(['serve', '--port', '0', '--model', model, '--max-session-tokens', '64', '--state-dir', path.join(stateDir, 'server'), '--log-level', 'warn']);
  let volunteer: Proc | undefined;
  try {
    await until('bouquet serve to listen', () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.test(serve.log()), 60_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.log())?.[1] ?? '';
    const swarm = async (): Promise<SwarmLite> => (await (await fetch(`${url}/api/swarm`)).json()) as SwarmLite;
    const info = (await swarm()).model;
    const nominalBytes = info.numBlocks * info.blockBytes + sessions * info.cacheBytesPerBlock;
    volunteer = start(['volunteer', '--server', url, '--backend', 'wasm', '--memory-mb', String(nominalBytes / MiB), '--state-dir', path.join(stateDir, 'v'), '--drain-ms', '0']);
    await until('the volunteer to serve every block', async () => {
      const s = await swarm();
      return s.volunteers.length === 1 && s.placement.uncoveredBlocks.length === 0 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan));
    }, 300_000).catch((e: unknown) => {
      throw new BouquetError('timeout', `${e instanceof Error ? e.message : String(e)}; volunteer: ${volunteer?.log().slice(-800) ?? ''}`);
    });
    const client = await startNodeClient({ origin: url });
    let msPerToken: number;
    try {
      const r = await client.generate({ prompt: 'Once upon a time', maxNewTokens: tokens, seed: 1, sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 } });
      msPerToken = [...r.perTokenMs].sort((a, b) => a - b)[r.perTokenMs.length >> 1] ?? NaN;
    } finally {
      await client.close();
    }
    const pid = volunteer.child.pid ?? -1;
    const peak = peakRssBytes(pid);
    const startMiB = Number(/rss before the runtime ([\d.]+) MiB/.exec(volunteer.log())?.[1] ?? NaN);
    return { name, nominalMiB: nominalBytes / MiB, weightMiB: info.numBlocks * info.blockBytes / MiB, peakAboveStartMiB: peak / MiB - startMiB, startMiB, msPerToken };
  } finally {
    if (volunteer !== undefined) await stop(volunteer);
    await stop(serve);
  }
}

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '2' }, tokens: { type: 'string', default: '16' } } });
const repeats = Number(values.repeats);
const tokens = Number(values.tokens);
const dir = mkdtempSync(path.join(tmpdir(), 'bouquet-node-memory-'));
try {
  const models: [string, string][] = [['stories260K', stories260K]];
  for (const n of [1, 2, 4]) {
    const m = path.join(dir, `synthetic-${n}`);
    await writeSyntheticCheckpoint(m, { ...block, numBlocks: n }, path.join(stories260K, 'tok512.bin'));
    models.push([`synthetic ${n} × 49 MiB`, m]);
  }
  const rows = models.map(() => [] as Row[]);
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < models.length; i++) {
      const [name, m] = models[i] ?? ['', ''];
      rows[i]?.push(await measure(name, m, tokens, path.join(dir, `state-${r}-${i}`)));
    }
  }
  console.log(`Node volunteer memory: one \`bouquet volunteer --backend wasm\` process (1 thread) serving every block, one ${tokens}-token chat; peak = VmHWM above its RSS before the runtime; ${repeats} interleaved runs`);
  console.log('model                       weights MiB  weights+cache MiB  start RSS MiB  peak above start MiB   ms/token');
  for (const rs of rows) {
    const f = rs[0];
    if (f === undefined) continue;
    const range = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    console.log(`${f.name.padEnd(28)}${f.weightMiB.toFixed(1).padStart(11)}${f.nominalMiB.toFixed(1).padStart(19)}${range(rs.map((x) => x.startMiB)).padStart(15)}${range(rs.map((x) => x.peakAboveStartMiB)).padStart(22)}${range(rs.map((x) => x.msPerToken)).padStart(11)}`);
  }
  // The constants bound every run, not fit them (the first block costs more per byte than later ones): each model's worst peak against the budget they give.
  const c = runtimeMemoryCosts.node;
  console.log(`runtimeMemoryCosts.node (${(c.fixedBytes / MiB).toFixed(0)} MiB + ${c.bytesPerWeightByte}× weights and cache): worst peak / the budget for it`);
  for (const rs of rows) {
    const budgetMiB = budgetBytesFor((rs[0]?.nominalMiB ?? 0) * MiB, 'node') / MiB;
    const worst = Math.max(...rs.map((r) => r.peakAboveStartMiB));
    console.log(`  ${(rs[0]?.name ?? '').padEnd(26)}${worst.toFixed(0).padStart(5)} / ${budgetMiB.toFixed(0)} MiB = ${(worst / budgetMiB).toFixed(2)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// PeerJS and libdatachannel may leave handles behind.
process.exit(0);
