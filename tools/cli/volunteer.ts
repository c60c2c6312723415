// `bouquet volunteer`: joins a swarm from Node as the tab's volunteer agent (in-thread wasm or Dawn WebGPU, WebRTC through node-datachannel) until stopped.
import path from 'node:path';
import { isBouquetError } from '../../core/errors/index.ts';
import { defaultStateDir } from '../../server/index.ts';
import { runtimeMemoryCosts } from '../../core/model/index.ts';
import { nodeVolunteerMemoryBytes, startNodeVolunteer } from '../node-peer/index.ts';
import { isRuntimeError } from '../../worker/index.ts';
import { ArgumentError, intOption, parseVerbArgs, verbFailure } from './sim-common.ts';

const usage = `usage: bouquet volunteer --server URL [options]

Serves blocks of the swarm's model from this process, as a volunteer tab does: measures its speed,
registers, loads the blocks the coordinator assigns (weights over HTTP from the server), serves
sessions over WebRTC (node-datachannel) and heartbeats, until Ctrl-C (then leaves cleanly).

  --server URL               the coordinator, e.g. http://127.0.0.1:8787
  --budget-mb N              this process's whole memory for serving, MiB (its peak RSS above its RSS before the
                             runtime loads): the runtime's own share and its measured cost per byte of weights + cache
                             are taken off, the rest registered (docs/api.md); below the runtime's own share: refused
  --memory-mb N              instead: memory for weights + cache at their nominal sizes, MiB, what placement counts
                             (the process uses several times it); fractions allowed (default 256)
  --backend auto|webgpu|wasm auto (default): WebGPU through Dawn's webgpu package on a real GPU adapter,
                             else wasm (a software adapter such as SwiftShader is not picked); webgpu: any
                             adapter Dawn finds, else fails [backend-unavailable]; the log says which and why
  --model ID                 model to serve (default: the one the swarm needs blocks for most)
  --threads N                wasm threads (default 1)
  --state-dir DIR            where the volunteer's key pair is kept, 0600 (default $BOUQUET_STATE_DIR or ~/.bouquet)
  --drain-ms N               on Ctrl-C, let open sessions finish for up to N ms (default 2000)
  -h, --help                 this text`;

const fail = (message: string): number => verbFailure('volunteer', message);
const MiB = 2 ** 20;

/** Runs the verb; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseVerbArgs('volunteer', argv, {
    server: { type: 'string' }, 'memory-mb': { type: 'string' }, 'budget-mb': { type: 'string' }, backend: { type: 'string' }, model: { type: 'string' },
    threads: { type: 'string' }, 'state-dir': { type: 'string' }, 'drain-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, usage);
  if (typeof parsed === 'number') return parsed;
  const origin = parsed.server;
  if (origin === undefined || origin === '') return fail('--server is required (the coordinator, e.g. http://127.0.0.1:8787)');
  const backend = parsed.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'wasm') return fail(`--backend must be auto, webgpu or wasm (got '${backend}')`);
  // What the process holds before any runtime: its budget is measured above this (docs/api.md "A volunteer's memory budget").
  const startRssBytes = process.memoryUsage().rss;
  let memory: { memoryBytes?: number; budgetBytes?: number };
  let registerBytes: number;
  let threads: number;
  let drainMs: number;
  try {
    new URL(origin);
    const mib = (flag: 'memory-mb' | 'budget-mb'): number | undefined => {
      const v = parsed[flag];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || v.trim() === '') throw new ArgumentError(`--${flag} must be a positive number (got '${v}')`);
      return Math.round(n * MiB);
    };
    const memoryBytes = mib('memory-mb');
    const budgetBytes = mib('budget-mb');
    memory = { ...(memoryBytes !== undefined ? { memoryBytes } : {}), ...(budgetBytes !== undefined ? { budgetBytes } : {}) };
    // Both given, or a budget below the runtime's own share: bad-argument, before any network.
    registerBytes = nodeVolunteerMemoryBytes(memory);
    threads = intOption(parsed.threads, 'threads', 1, 1);
    drainMs = intOption(parsed['drain-ms'], 'drain-ms', 2000, 0);
  } catch (e) {
    if (isBouquetError(e)) return fail(`${e.message} [${e.code}]`);
    return fail(`--server must be a URL (got '${origin}')`);
  }
  const stateDir = parsed['state-dir'] !== undefined ? path.resolve(parsed['state-dir']) : defaultStateDir();
  let volunteer;
  try {
    volunteer = await startNodeVolunteer({
      origin, ...memory, backend: backend, threads, stateDir,
      ...(parsed.model !== undefined ? { modelId: parsed.model } : {}),
    });
  } catch (e) {
    if (isBouquetError(e) || isRuntimeError(e)) return fail(`${e.message} [${e.code}]`);
    throw e;
  }
  const log = (s: string): void => void process.stderr.write(`[volunteer] ${s}\n`);
  log(`peer ${volunteer.transport.peerId} serving ${volunteer.modelId} on ${volunteer.backend.backend} for ${origin}`);
  log(`backend: ${volunteer.backend.reason}`);
  const costs = runtimeMemoryCosts.node;
  log(`memory: registers ${(registerBytes / MiB).toFixed(1)} MiB for weights + cache${memory.budgetBytes !== undefined
    ? ` of a ${(memory.budgetBytes / MiB).toFixed(1)} MiB budget (${(costs.fixedBytes / MiB).toFixed(0)} MiB runtime + ${costs.bytesPerWeightByte}× weights and cache)` : ' (--memory-mb, as given)'}; rss before the runtime ${(startRssBytes / MiB).toFixed(1)} MiB`);
  let last = '';
  volunteer.agent.onChange((s) => {
    const line = `${s.status}${s.span !== null ? ` blocks [${s.span.start}, ${s.span.end})` : ''}${s.lastError !== null ? ` (${s.lastError})` : ''}`;
    if (line !== last) log(line);
    last = line;
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  log('leaving…');
  await volunteer.leave(drainMs);
  // PeerJS and libdatachannel may leave handles behind; they must not keep a stopped volunteer alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
  return 0;
}
