// `bouquet demo` without a browser: Node volunteers and a Node client (tools/node-peer) on the demo's server; and the report both modes print.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SwarmState } from '../../core/api/index.ts';
import { placementMemoryBytes, budgetBytesFor } from '../../core/model/index.ts';
import { quantile } from '../../core/stats/index.ts';
import type { BouquetServer } from '../../server/index.ts';
import { startNodeClient, startNodeVolunteer, type NodeBackendChoice, type NodeClient, type NodeVolunteer } from '../node-peer/index.ts';

/** What the demo shows of an answer (a tab's result and a Node client's alike). */
export interface DemoAnswer {
  text: string;
  ids: number[];
  route: { peerId: string; span: { start: number; end: number } }[];
  failovers: { atToken: number; failedPeer: string; span: { start: number; end: number }; code: string; replacement: { peerId: string; span: { start: number; end: number } }[]; recoveryMs: number }[];
  perTokenMs: number[];
  ttftMs: number;
}

/** Prints the answer: one JSON line with `json`, else the route, latencies and failovers. */
export function printDemoAnswer(result: DemoAnswer, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ text: result.text, ids: result.ids, route: result.route, failovers: result.failovers, perTokenMs: result.perTokenMs }));
    return;
  }
  process.stdout.write('\n\n');
  console.log(`route: ${result.route.map((h) => `${h.peerId} [${h.span.start}, ${h.span.end})`).join(' → ')}`);
  console.log(`tokens: ${result.ids.length}; time to first token ${result.ttftMs.toFixed(0)} ms; per-token latency median ${quantile(result.perTokenMs, 0.5).toFixed(1)} ms, p90 ${quantile(result.perTokenMs, 0.9).toFixed(1)} ms`);
  if (result.failovers.length === 0) console.log('failovers: none');
  for (const f of result.failovers) {
    console.log(`failover at token ${f.atToken}: ${f.failedPeer} [${f.span.start}, ${f.span.end}) ${f.code} → ${f.replacement.map((h) => `${h.peerId} [${h.span.start}, ${h.span.end})`).join(', ')} in ${f.recoveryMs.toFixed(0)} ms`);
  }
}

/**
 * The volunteer to stop for the failover show: the last hop of `clientId`'s active route whose blocks
 * others also hold (so the client fails over at once instead of waiting for a re-placement), else its last hop.
 */
export function failoverVictim(state: SwarmState, clientId: string): string | undefined {
  const lease = state.recentRoutes.find((r) => r.clientId === clientId && r.outcome === 'active');
  const coveredElsewhere = (peerId: string, span: { start: number; end: number }): boolean => {
    for (let b = span.start; b < span.end; b++) {
      if (!state.volunteers.some((v) => v.peerId !== peerId && v.span !== null && v.span.start <= b && b < v.span.end)) return false;
    }
    return true;
  };
  return (lease?.chain.filter((h) => coveredElsewhere(h.peerId, h.span)).at(-1) ?? lease?.chain.at(-1))?.peerId;
}

/** Weights + cache at their nominal sizes for ⌈L / N⌉ + 1 blocks each (so a departed volunteer's blocks are still held) and 4 sessions, bytes: the demo's default budget is the one that holds it (budgetBytesFor). */
export function demoVolunteerMemoryBytes(info: { numBlocks: number; blockBytes: number; cacheBytesPerBlock: number }, volunteers: number): number {
  const blocksEach = Math.min(info.numBlocks, Math.ceil(info.numBlocks / volunteers) + (volunteers > 1 ? 1 : 0));
  return blocksEach * info.blockBytes + 4 * info.cacheBytesPerBlock;
}

/** What the Node demo needs from the verb. */
export interface NodeDemoOptions {
  server: BouquetServer;
  volunteers: number;
  /** Each volunteer's whole memory budget, bytes (`--volunteer-memory-mb`; default the Node budget for demoVolunteerMemoryBytes). */
  budgetBytes?: number;
  /** The volunteers' backend (default auto: WebGPU through Dawn on a real adapter, else wasm). */
  backend?: NodeBackendChoice;
  prompt: string;
  maxTokens: number;
  temperature: number;
  seed: number;
  killAfter: number | undefined;
  json: boolean;
  log: (s: string) => void;
  waitFor: (what: string, cond: () => boolean, timeoutMs: number) => Promise<void>;
}

/** A running Node swarm of the demo. */
export interface NodeDemoSwarm {
  answer: DemoAnswer;
  close(): Promise<void>;
}

/** Starts `volunteers` Node volunteers and a Node client on `server`, and asks the prompt. */
export async function runNodeDemo(o: NodeDemoOptions): Promise<NodeDemoSwarm> {
  const origin = o.server.url;
  const coordinator = o.server.coordinator;
  const info = o.server.model.info;
  // Each volunteer's whole budget, as a tab's (bouquet volunteer --budget-mb): it registers what the Node runtime's costs leave.
  // They share this one process (and its onnxruntime module), so the process's peak is not checked against any one budget.
  const budgetBytes = o.budgetBytes ?? budgetBytesFor(demoVolunteerMemoryBytes(info, o.volunteers), 'node');
  o.log(`each Node volunteer's budget: ${(budgetBytes / 2 ** 20).toFixed(1)} MiB, ${(placementMemoryBytes(budgetBytes, 'node') / 2 ** 20).toFixed(1)} MiB of it for weights + cache at their nominal sizes (a block is ${(info.blockBytes / 2 ** 20).toFixed(1)} MiB)`);
  // Demo peers are ephemeral: their key pairs go in a temporary state dir, removed at the end.
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-demo-peers-'));
  const peers: NodeVolunteer[] = [];
  let client: NodeClient | undefined;
  const close = async (): Promise<void> => {
    await client?.close().catch(() => undefined);
    await Promise.all(peers.map((p) => p.leave(0).catch(() => undefined)));
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < o.volunteers; i++) {
      peers.push(await startNodeVolunteer({ origin, budgetBytes, backend: o.backend ?? 'auto', stateDir: path.join(stateDir, `volunteer-${i}`) }));
    }
    if (peers[0] !== undefined) o.log(`Node volunteers' backend: ${peers[0].backend.reason}`);
    o.log(`${o.volunteers} Node volunteers started; waiting for them to register and load…`);
    await o.waitFor('the volunteers to cover every block', () => {
      const s = coordinator.state();
      return s.volunteers.length === o.volunteers && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan))
        && s.placement.uncoveredBlocks.length === 0;
    }, 300_000);
    for (const v of coordinator.state().volunteers) o.log(`volunteer ${v.peerId}: blocks ${v.span === null ? 'none' : `[${v.span.start}, ${v.span.end})`} on ${v.backend}, τ ${v.decodeMsPerBlock.toFixed(2)} ms/block`);
    const c = await startNodeClient({ origin });
    client = c;
    let killed: string | undefined;
    if (!o.json) process.stdout.write(`\n${o.prompt}`);
    const result = await c.generate({
      prompt: o.prompt, maxNewTokens: o.maxTokens, seed: o.seed,
      sampling: { temperature: o.temperature, topK: 0, topP: 1, repetitionPenalty: 1 },
      onText: (piece, index) => {
        if (!o.json) process.stdout.write(piece);
        if (o.killAfter === undefined || index + 1 < o.killAfter || killed !== undefined) return;
        const victim = failoverVictim(coordinator.state(), c.transport.peerId);
        const peer = peers.find((p) => p.transport.peerId === victim);
        if (peer === undefined) return;
        killed = victim;
        // As a closed tab: the volunteer leaves at once, without draining its sessions.
        void peer.leave(0);
        if (!o.json) process.stdout.write(`\n[demo] stopped Node volunteer ${victim} after ${o.killAfter} tokens\n`);
      },
    });
    return { answer: result, close };
  } catch (e) {
    await close();
    throw e;
  }
}
