// bench:regions' prediction: the exported scenario replayed by the simulator on the live spans with each client's own chats, and `bouquet sim --from` on it as exported.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BouquetError } from '../../core/errors/index.ts';
import { requestTime } from '../../core/perf/index.ts';
import { median } from '../../core/stats/index.ts';
import { cacheSlots } from '../../core/perf/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { networkDefaults } from '../../server/index.ts';
import { generateRequests, parseScenario, placeFor, resolvePolicy, routingFor, simulateAsync, streamRandom, type Scenario, type SimConfig, type SimResult } from '../../sim/index.ts';

/** One chat as the chat tab measured it. */
export interface ChatRecord {
  clientId: string;
  region: number;
  outputTokens: number;
  /** Request → last token, ms (route request, connections, sessions, prefill, decode). */
  totalMs: number;
  ttftMs: number;
  route: { peerId: string; span: BlockSpan }[];
  /** Pings to every volunteer while the chat ran (one measurement each 250 ms), ms by peer. */
  busyRttsMs: Record<string, number>[];
  /** The client's own work per decode token as its session measured it (what the release reported), ms. */
  clientMsPerToken?: number;
}

/** One volunteer's step times over the measured chats, ms per step (what its session host counted). */
export interface HostStepTimes {
  steps: number;
  /** onnxruntime's run of its span. */
  computeMs: number;
  /** From the step's arrival to its answer: compute plus the worker hop and queueing. */
  serveMs: number;
}

/**
 * The exported scenario without what the coordinator fitted from the reports (the per-message and prefill
 * overheads back at the coordinator's defaults, no client term): the prediction before calibration, on the same run.
 */
function unfitted(exported: Record<string, unknown>): Record<string, unknown> {
  const defaults = networkDefaults(undefined);
  const network = { ...(exported.network as Record<string, unknown>) };
  delete network.clientMsPerToken;
  return { ...exported, network: { ...network, messageOverheadMs: defaults.messageOverheadMs, prefillOverheadMs: defaults.prefillOverheadMs } };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`;

/** The simulator on `exported` with the live spans and a trace of these chats (one client's), one at a time a minute apart. */
async function simulateChats(exported: Record<string, unknown>, mine: readonly ChatRecord[], liveSpans: Record<string, BlockSpan | null>, inputTokens: number): Promise<{ scenario: Scenario; sim: SimResult }> {
  const clientId = mine[0]?.clientId ?? '';
  // One chat at a time, a minute apart: the live chats of a client never overlapped.
  const entries = mine.map((r, i) => ({ atMs: i * 60_000, inputTokens, outputTokens: r.outputTokens, maxNewTokens: r.outputTokens, clientId }));
  const scenario = parseScenario({ ...exported, arrivals: { process: 'trace', entries } });
  const combo = resolvePolicy(scenario, 'live');
  const placement = await placeFor(scenario, combo, 1);
  const { model } = scenario.snapshot;
  placement.assignments = scenario.snapshot.servers.map((s) => {
    const span = liveSpans[s.id] ?? null;
    return { serverId: s.id, span, cacheSlots: cacheSlots(s.memoryBytes, span === null ? 0 : span.end - span.start, model.blockBytes, model.cacheBytesPerBlock) };
  });
  delete placement.chains;
  const cfg: SimConfig = {
    swarm: scenario.snapshot, placement, routing: routingFor(combo), random: streamRandom(1, 'churn'),
    requests: generateRequests(scenario.arrivals, scenario.snapshot.clients, streamRandom(1, 'arrivals')),
  };
  if (combo.reservation !== undefined) cfg.reservation = combo.reservation;
  const sim = await simulateAsync(cfg);
  if (sim.metrics.finished !== mine.length) throw new BouquetError('internal', `the simulator finished ${sim.metrics.finished} of ${mine.length} chats of ${clientId}`);
  return { scenario, sim };
}

/**
 * Per client: the simulator's per-token time (response / l_out, the papers' metric) for that client's
 * chats, one after another with no overlap, on the exported scenario with the spans in force live
 * (the simulator's own placement may choose other spans: that is `bouquet sim --from`'s figure, printed
 * after); beside it the performance model on the very chain each chat took. Returns the report text.
 */
export async function predictPerClient(exported: Record<string, unknown>, records: readonly ChatRecord[], liveSpans: Record<string, BlockSpan | null>, scenarioFile: string, hostMs: Record<string, HostStepTimes>): Promise<string> {
  const workload = exported.workload as { meanInputTokens?: number } | undefined;
  const inputTokens = Math.max(1, Math.round(workload?.meanInputTokens ?? 1));
  const lines: string[] = [];
  const errors: number[] = [];
  const unfittedErrors: number[] = [];
  const rows: string[][] = [];
  const terms: string[][] = [];
  // Per client: what a decode token took per hop beyond the exported RTT and the planned compute (the per-message overhead it implies), ms.
  const impliedOverheadMs: number[] = [];
  const clients = [...new Set(records.map((r) => r.clientId))];
  for (const clientId of clients) {
    const mine = records.filter((r) => r.clientId === clientId);
    const { scenario, sim } = await simulateChats(exported, mine, liveSpans, inputTokens);
    const measured = mean(mine.map((r) => r.totalMs / r.outputTokens));
    const predicted = sim.metrics.perTokenMs.mean;
    // The performance model on each chat's own chain (what the simulator prices when it routes the same way).
    const onChain = mean(mine.map((r) => requestTime(scenario.snapshot, clientId, { hops: r.route.map((h) => ({ serverId: h.peerId, span: h.span })) }, inputTokens, r.outputTokens).totalMs / r.outputTokens));
    const err = predicted / measured - 1;
    errors.push(Math.abs(err));
    const before = (await simulateChats(unfitted(exported), mine, liveSpans, inputTokens)).sim.metrics.perTokenMs.mean;
    unfittedErrors.push(Math.abs(before / measured - 1));
    const rtts = scenario.snapshot.network.clientServerRttMs[clientId] ?? {};
    const hops = [...new Set(mine.map((r) => r.route.map((h) => `${h.peerId.slice(0, 6)}(${(rtts[h.peerId] ?? NaN).toFixed(0)} ms)`).join('→')))].join(' | ');
    // Where a decode token's time goes, measured against the model's terms (per token after the first).
    const tpot = mean(mine.map((r) => (r.totalMs - r.ttftMs) / Math.max(1, r.outputTokens - 1)));
    const route = mine[mine.length - 1]?.route ?? [];
    const servers = new Map(scenario.snapshot.servers.map((s) => [s.id, s]));
    const rttSum = route.reduce((a, h) => a + (rtts[h.peerId] ?? NaN), 0);
    const busy = mine.flatMap((r) => r.busyRttsMs);
    const busySum = route.reduce((a, h) => a + median(busy.map((b) => b[h.peerId]).filter((x): x is number => x !== undefined)), 0);
    const hostSum = route.reduce((a, h) => a + (hostMs[h.peerId]?.serveMs ?? NaN), 0);
    const computeSum = route.reduce((a, h) => a + (hostMs[h.peerId]?.computeMs ?? NaN), 0);
    const modelCompute = route.reduce((a, h) => a + (h.span.end - h.span.start) * (servers.get(h.peerId)?.decodeMsPerBlock ?? NaN), 0);
    const overhead = route.length * scenario.snapshot.network.messageOverheadMs;
    const clientModel = scenario.snapshot.network.clientMsPerToken?.[clientId] ?? 0;
    const clientMeasured = mean(mine.flatMap((r) => (r.clientMsPerToken === undefined ? [] : [r.clientMsPerToken])));
    impliedOverheadMs.push((tpot - rttSum - modelCompute) / Math.max(1, route.length));
    terms.push([`r${mine[0]?.region ?? '?'}`, tpot.toFixed(1), (rttSum + overhead + modelCompute + clientModel).toFixed(1), rttSum.toFixed(1), `${busySum.toFixed(1)} (${busy.length})`, `${overhead.toFixed(1)}`, `${modelCompute.toFixed(2)} / ${computeSum.toFixed(2)}`, (hostSum - computeSum).toFixed(2), `${clientModel.toFixed(1)} / ${clientMeasured.toFixed(1)}`, (tpot - rttSum - hostSum - clientMeasured).toFixed(2)]);
    rows.push([`r${mine[0]?.region ?? '?'} ${clientId.slice(0, 6)}`, String(mine.length), measured.toFixed(1), predicted.toFixed(1), onChain.toFixed(1), pct(err), `${before.toFixed(1)} (${pct(before / measured - 1)})`, `${tpot.toFixed(1)} / ${sim.metrics.tpotMs.mean.toFixed(1)} (${pct(sim.metrics.tpotMs.mean / tpot - 1)})`, mean(mine.map((r) => r.ttftMs)).toFixed(0), sim.metrics.ttftMs.mean.toFixed(0), hops]);
  }
  const head = ['client', 'chats', 'measured ms/token', 'simulated', 'model on live chain', 'error', 'unfitted sim (error)', 'TPOT measured / sim (error)', 'TTFT ms', 'sim TTFT', 'route (RTT reported)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  lines.push('', 'Per-token time (response / tokens, ms) per client: measured in the chat tab vs the simulator on the exported scenario (live spans, the client\'s own chats):');
  lines.push(fmt(head), ...rows.map(fmt));
  lines.push(`mean |error| ${(100 * mean(errors)).toFixed(1)} % over ${errors.length} clients (target ≤ 10 %); the same run predicted without the fitted overheads: ${(100 * mean(unfittedErrors)).toFixed(1)} %`);
  const termHead = ['client', 'measured ms/decode token', 'model', 'Σ RTT (pings)', 'Σ RTT pinged during the chats (samples)', 'Σ msg overhead (model)', 'Σ kτ model / measured', 'volunteer host beyond compute (measured)', 'client c model / its own report', 'rest: frames, links (measured)'];
  const tw = termHead.map((h, i) => Math.max(h.length, ...terms.map((r) => (r[i] ?? '').length)));
  lines.push('', 'Decode token, by term (ms; Σ over the last chat\'s hops; measured from the volunteers\' step counters):');
  lines.push(termHead.map((c, i) => c.padEnd(tw[i] ?? 0)).join('  '), ...terms.map((r) => r.map((c, i) => c.padEnd(tw[i] ?? 0)).join('  ')));
  lines.push(`diagnostic: beyond the RTTs and the planned compute the clients' decode tokens imply ${impliedOverheadMs.map((x) => x.toFixed(1)).join(' / ')} ms per hop (the fit's per-message overhead and client term share it)`);
  const n = exported.network as { messageOverheadMs?: number; prefillOverheadMs?: { perTokenMs: number; fixedMs: number } } | undefined;
  lines.push(`exported (fitted from the released leases): message overhead ${String(n?.messageOverheadMs)} ms per hop, prefill overhead ${JSON.stringify(n?.prefillOverheadMs)}, client ms per token ${JSON.stringify((exported.network as { clientMsPerToken?: unknown } | undefined)?.clientMsPerToken ?? {})}, prompt ${inputTokens} tokens`);
  // And the exported scenario as it is: the simulator's own placement, Poisson arrivals at the planned rate.
  const repoRoot = path.resolve(import.meta.dirname, '..', '..');
  const cli = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'bouquet.js'), 'sim', '--from', scenarioFile, '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (cli.status === 0) {
    const out = JSON.parse(cli.stdout) as { metrics: { perTokenMs: { mean: number }; finished: number }; placement: { assignments: { serverId: string; span: BlockSpan | null }[] } };
    const same = out.placement.assignments.every((a) => JSON.stringify(a.span) === JSON.stringify(liveSpans[a.serverId] ?? null));
    lines.push(`bouquet sim --from (its own placement${same ? ', the same spans as live' : ', spans differ from live'}; ${out.metrics.finished} Poisson requests): per-token mean ${out.metrics.perTokenMs.mean.toFixed(1)} ms; measured mean over all chats ${mean(records.map((r) => r.totalMs / r.outputTokens)).toFixed(1)} ms`);
  } else {
    lines.push(`bouquet sim --from failed: ${cli.stderr.trim().slice(0, 400)}`);
  }
  return lines.join('\n');
}
