// `npm run bench:swarm` (tools/bench/swarm-bench.ts): per-hop protocol overhead, swarm vs single process on stories260K and on a
// ≥ 100M-parameter synthetic checkpoint, the live swarm at emulated RTTs vs the simulator's performance model (spans and chain from
// --policy), and with --browser the big checkpoint over volunteer tabs in headless Chromium on loopback. Prints figures; asserts nothing.
import { BouquetError } from '../../core/errors/index.ts';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { requestTime } from '../../core/perf/index.ts';
import { FrameLink, MemoryNetwork, type HiddenStates } from '../../core/protocol/index.ts';
import type { BlockSpan, SwarmSnapshot } from '../../core/swarm/index.ts';
import { median } from '../../core/stats/index.ts';
import { defaultServeCombo, placementPolicyFor, resolveCombo, routingPolicyFor } from '../../core/policies/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { synthetic100M, syntheticParams, writeSyntheticCheckpoint } from './synthetic-checkpoint.ts';
import { runBrowserSwarm, type TabThreading } from './swarm-browser.ts';
import { ClientSession, clientModelFromRuntime, samplerFor, type RouteProvider } from '../../web/client/index.ts';
import { SessionHost } from '../../web/volunteer/index.ts';
import { loadServedModel, resolveModel } from '../../server/index.ts';
import { createInThreadRuntime, generateText, probeSpeed, type BlockRuntime, type SessionRuntime, openTokenizer, openModelWeights } from '../../worker/index.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '../shared/models/stories260K' },
    tokens: { type: 'string', default: '64' },
    rtts: { type: 'string', default: '0,10,25,50' },
    // 5 interleaved rounds: with 3, one slow round on a shared machine moved a point by +28 % (docs/results.md).
    repeats: { type: 'string', default: '5' },
    browser: { type: 'boolean', default: false },
    policy: { type: 'string', default: defaultServeCombo },
    'big-model': { type: 'string' },
    'big-tokens': { type: 'string', default: '32' },
    'tab-configs': { type: 'string', default: 'before,after' },
  },
});
const modelDir = values.model;
const maxTokens = Number(values.tokens);
const rtts = values.rtts.split(',').map(Number);
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 50) throw new BouquetError('bad-argument', `--repeats must be an integer in [1, 50], got '${values.repeats}'`);
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };
const maxSessionTokens = 256;
const prompt = 'Once upon a time';

const model = await resolveModel(modelDir);
const weights = await openModelWeights(model.files, model.layout);
const tokenizer = await openTokenizer(model.files, weights.shape);
const shape = weights.shape;
const d = shape.hiddenSize;
const runtimes: BlockRuntime[] = [];
const rt = async (blocks: BlockSpan | undefined, client = false): Promise<BlockRuntime> => {
  const r = await createInThreadRuntime(ort, weights, { ...(blocks !== undefined ? { blocks } : {}), client, backends: ['wasm'], threads: 1, maxSessionTokens, cacheBudgetBytes: 1 << 26 });
  runtimes.push(r);
  return r;
};
console.log(`bench:swarm — model ${modelDir} (L=${shape.numBlocks}, d=${d}), ${maxTokens} new tokens, greedy, wasm 1 thread, in-memory transport`);


// 1. Per-hop overhead: one decode step (1×d fp32) client → volunteer → client through FrameLink and SessionHost,
//    against a runtime that computes nothing, and the real runtime's step timed directly vs through the hop.
{
  const net = new MemoryNetwork();
  const identity: SessionRuntime = {
    openSession: (req) => Promise.resolve({ ...req, slots: 1, cacheTokenBlocks: 0 }),
    step: (_id, h) => Promise.resolve({ hidden: h, tokens: h.length / d, length: 0, computeMs: 0 }),
    closeSession: () => Promise.resolve(),
  };
  const host = new SessionHost(identity);
  host.setBlocks({ span: { start: 0, end: shape.numBlocks }, cacheSlots: 100, maxSessionTokens: 1 << 20, hiddenSize: d });
  net.createTransport('v').onConnection((c) => host.attach(new FrameLink(c)));
  const link = new FrameLink(await net.createTransport('c').connect('v'));
  await link.request<'open-session'>({ type: 'open-session', sessionId: 's', span: { start: 0, end: 1 }, maxLength: 1 << 20, dtype: 'fp32' });
  const hidden: HiddenStates = { rows: 1, cols: d, data: new Float32Array(d).fill(0.5) };
  const times: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const t0 = performance.now();
    await link.request<'step'>({ type: 'step', sessionId: 's', stepIndex: i, position: i, dtype: 'fp32', hidden });
    times.push(performance.now() - t0);
  }
  const noCompute = median(times.slice(500));
  // Real compute: one block's decode step directly, and the same through a hop.
  const blockRt = await rt({ start: 0, end: 1 });
  await blockRt.openSession({ sessionId: 'direct', blocks: { start: 0, end: 1 }, maxLength: maxSessionTokens });
  const direct: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await blockRt.step('direct', new Float32Array(hidden.data));
    direct.push(performance.now() - t0);
  }
  const host2 = new SessionHost(blockRt);
  host2.setBlocks({ span: { start: 0, end: 1 }, cacheSlots: 100, maxSessionTokens, hiddenSize: d });
  net.createTransport('v2').onConnection((c) => host2.attach(new FrameLink(c)));
  const link2 = new FrameLink(await net.createTransport('c2').connect('v2'));
  await link2.request<'open-session'>({ type: 'open-session', sessionId: 'hop', span: { start: 0, end: 1 }, maxLength: maxSessionTokens, dtype: 'fp32' });
  const viaHop: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await link2.request<'step'>({ type: 'step', sessionId: 'hop', stepIndex: i, position: i, dtype: 'fp32', hidden });
    viaHop.push(performance.now() - t0);
  }
  console.log('\n1. per-hop overhead, one decode step (1×%d fp32, %d-byte frame), in-memory transport', d, 8 + 2 + 3 + 8 + 1 + 8 + d * 4);
  console.log(`   protocol only (no compute), median of 2500:        ${(noCompute * 1000).toFixed(0)} µs`);

  console.log(`   one block, runtime step called directly, median:   ${median(direct.slice(20)).toFixed(3)} ms`);
  console.log(`   one block, through the hop, median:                ${median(viaHop.slice(20)).toFixed(3)} ms  (overhead ${(median(viaHop.slice(20)) - median(direct.slice(20))).toFixed(3)} ms)`);
}

// 2. Tokens/s: single process vs a swarm whose spans and chain the policy chose (--policy, default serve's), 0 ms RTT;
//    3. the same swarm at emulated RTTs vs the simulator's performance model (core/perf's requestTime, what sim/ prices service with).
const combo = resolveCombo(values.policy);
const full = await rt({ start: 0, end: shape.numBlocks }, true);
const single: number[] = [];
let referenceIds: number[] = [];
await generateText(full, tokenizer, prompt, { maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1) }); // warm-up
for (let r = 0; r < repeats; r++) {
  const res = await generateText(full, tokenizer, prompt, { maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1) });
  single.push(res.tokensPerSecond);
  referenceIds = res.ids;
}
const probe = await probeSpeed(ort, shape, { backends: ['wasm'], threads: 1, decodeSteps: 32, repeats: 3, prefillLengths: [4, 8, 16] });
const promptIds = tokenizer.encode(prompt, { bos: true });
const served = await loadServedModel(modelDir, { maxSessionTokens });
// Three volunteers that each hold two blocks next to a few sessions' cache: every policy must split the model.
const volunteerIds = ['v0', 'v1', 'v2'];
const memoryBytes = 2 * served.info.blockBytes + 8 * served.info.cacheBytesPerBlock;
const snapshotAt = (rttMs: number, messageOverheadMs: number, lOut: number): SwarmSnapshot => ({
  model: served.workload,
  servers: volunteerIds.map((id) => ({ id, memoryBytes, decodeMsPerBlock: probe.decodeMsPerBlock, prefillMsPerBlock: probe.prefillMsPerBlock })),
  clients: [{ id: 'client' }],
  network: {
    clientServerRttMs: { client: Object.fromEntries(volunteerIds.map((id) => [id, rttMs])) },
    messageOverheadMs, prefillOverheadMs: { perTokenMs: 0, fixedMs: messageOverheadMs },
  },
  workload: { arrivalRatePerS: 0.1, meanInputTokens: promptIds.length, meanOutputTokens: lOut, concurrentRequests: 1 },
});
const planSnapshot = snapshotAt(20, 0, maxTokens);
const placement = await placementPolicyFor(combo.placement, combo.placementOptions)(planSnapshot);
const decision = routingPolicyFor(combo.routing, combo.routingOptions).route(
  { swarm: planSnapshot, placement, state: { nowMs: 0, servers: new Map() } },
  { clientId: 'client', inputTokens: promptIds.length, outputTokens: maxTokens },
);
if (decision.kind !== 'route') throw new BouquetError('internal', `policy ${values.policy} routed nothing (${decision.kind})`);
const chain = decision.chain;
const hops = chain.hops.map((h) => ({ peerId: h.serverId, span: h.span }));
const clientRt = await rt(undefined, true);
const volunteerRts = new Map<string, BlockRuntime>();
for (const a of placement.assignments) if (a.span !== null) volunteerRts.set(a.serverId, await rt(a.span));

type SwarmRun = { tokPerS: number; perTokenMs: number; totalMs: number; ttftMs: number; tokens: number; same: boolean; pingMs: number };
async function swarmRun(rttMs: number): Promise<SwarmRun> {
  const isClient = (id: string): boolean => id.startsWith('client');
  const net = new MemoryNetwork({ delayMs: (from, to) => (isClient(from) || isClient(to) ? rttMs / 2 : 0) });
  for (const a of placement.assignments) {
    if (a.span === null) continue;
    const host = new SessionHost(volunteerRts.get(a.serverId) ?? null);
    host.setBlocks({ span: a.span, cacheSlots: Math.max(a.cacheSlots, 100), maxSessionTokens, hiddenSize: d });
    net.createTransport(a.serverId).onConnection((c) => host.attach(new FrameLink(c)));
  }
  const routes: RouteProvider = {
    requestRoute: () => Promise.resolve({ leaseId: 'l', chain: hops }),
    releaseRoute: () => Promise.resolve(),
  };
  // The RTT a client would measure and send with its route request (ping frames over the same emulated links): the model's input.
  const pingLink = new FrameLink(await net.createTransport('client-ping').connect(hops[0]?.peerId ?? ''));
  const pings: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await pingLink.request<'ping'>({ type: 'ping', sentAtMs: t0 });
    pings.push(performance.now() - t0);
  }
  pingLink.close();
  const session = new ClientSession({ transport: net.createTransport('client'), routes, model: clientModelFromRuntime(clientRt, shape, maxSessionTokens) });
  const res = await session.generate(promptIds, { maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1), stopTokenIds: [tokenizer.bosId, ...tokenizer.eosIds] });
  const decodeMs = res.perTokenMs.reduce((a, b) => a + b, 0);
  return {
    tokPerS: ((res.ids.length - 1) * 1000) / decodeMs, perTokenMs: decodeMs / res.perTokenMs.length, totalMs: res.totalMs, ttftMs: res.ttftMs,
    tokens: res.ids.length, same: JSON.stringify(res.ids) === JSON.stringify(referenceIds), pingMs: median(pings.slice(3)),
  };
}

await swarmRun(0); // warm-up: JIT, first ORT runs of each session shape
// Rounds over every RTT in turn: a shared machine's load drifts, and interleaving spreads it over all of them alike.
const runsAt = new Map<number, SwarmRun[]>([[0, []], ...rtts.map((r): [number, SwarmRun[]] => [r, []])]);
for (let r = 0; r < Math.max(repeats, 3); r++) for (const rttMs of runsAt.keys()) runsAt.get(rttMs)?.push(await swarmRun(rttMs));
const zero = runsAt.get(0) ?? [];
console.log('\n2. tokens/s, decode (tokens after the first), median of %d (single) and %d (swarm) runs; policy %s (%s + %s)', repeats, zero.length, values.policy, combo.placement, combo.routing);
console.log(`   single process (bouquet generate's loop):  ${median(single).toFixed(1)} tok/s`);
console.log(`   swarm ${hops.map((h) => `${h.peerId} [${h.span.start},${h.span.end})`).join(' → ')}, 0 ms RTT: ${median(zero.map((z) => z.tokPerS)).toFixed(1)} tok/s  (same tokens as single process: ${zero.every((z) => z.same) ? 'yes' : 'NO'})`);

console.log('\n3. live swarm at emulated client↔volunteer RTTs (delay injected in the transport) vs the simulator\'s performance model (core/perf requestTime)');
console.log(`   probe: τ = ${probe.decodeMsPerBlock.toFixed(3)} ms/block/token, τᴵ(l) = ${probe.prefillMsPerBlock.perTokenMs.toFixed(3)}·l + ${probe.prefillMsPerBlock.fixedMs.toFixed(3)} ms`);
// The model's inputs, measured as the live swarm measures them: each RTT as a client's pings see it, and the per-message
// overhead fitted at 0 ms RTT as (per-token latency − compute) / hops − the ping there.
const zeroPerToken = median(zero.map((z) => z.perTokenMs));
const computePerToken = shape.numBlocks * probe.decodeMsPerBlock;
const zeroPing = median(zero.map((z) => z.pingMs));
const messageOverheadMs = Math.max(0, (zeroPerToken - computePerToken) / hops.length - zeroPing);
console.log(`   per-message overhead fitted at 0 ms RTT (incl. the client's embed + head): ${messageOverheadMs.toFixed(3)} ms per hop; interleaved rounds: ${zero.length}`);
console.log('   RTT ms | pinged RTT ms | measured ms/token (mean over the decode) | predicted ms/token | error | measured total ms | predicted total ms | tokens equal');
const errors: number[] = [];
for (const [rttMs, runs] of runsAt) {
  const lOut = runs[0]?.tokens ?? maxTokens;
  const pingMs = median(runs.map((r) => r.pingMs));
  const snapshot = snapshotAt(pingMs, messageOverheadMs, lOut);
  const t = requestTime(snapshot, 'client', chain, promptIds.length, lOut);
  const decodePredicted = (t.totalMs - requestTime(snapshot, 'client', chain, promptIds.length, 1).totalMs) / (lOut - 1);
  const measured = median(runs.map((r) => r.perTokenMs));
  const err = (measured - decodePredicted) / decodePredicted;
  if (rttMs > 0) errors.push(Math.abs(err));
  console.log(`   ${String(rttMs).padStart(6)} | ${pingMs.toFixed(2).padStart(13)} | ${measured.toFixed(2).padStart(40)} | ${decodePredicted.toFixed(2).padStart(18)} | ${(100 * err).toFixed(1).padStart(5)}% | ${median(runs.map((r) => r.totalMs)).toFixed(0).padStart(17)} | ${t.totalMs.toFixed(0).padStart(18)} | ${runs.every((r) => r.same) ? 'yes' : 'NO'}`);
}
console.log(`   mean |per-token error| over the RTTs > 0: ${(100 * errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length)).toFixed(1)}%`);
for (const r of runtimes) await r.dispose();
runtimes.length = 0;

// 4. A ≥ 100M-parameter checkpoint: one process vs the model split over two volunteers (in-memory, 0 ms RTT), and with
//    --browser over two volunteer tabs in headless Chromium on loopback (PeerJS/WebRTC, runtimes in the tabs' workers).
const bigDir = values['big-model'] ?? mkdtempSync(path.join(tmpdir(), 'bouquet-bench-100m-'));
const bigTokens = Number(values['big-tokens']);
try {
  if (values['big-model'] === undefined) {
    console.log(`\n4. writing a synthetic ${(syntheticParams(synthetic100M) / 1e6).toFixed(0)}M-parameter llama2.c checkpoint (d ${synthetic100M.hiddenSize}, FFN ${synthetic100M.ffnSize}, L ${synthetic100M.numBlocks}) to ${bigDir}`);
    await writeSyntheticCheckpoint(bigDir, synthetic100M, path.join(modelDir, 'tok512.bin'), { name: 'synthetic-100m' });
  }
  const big = await resolveModel(bigDir);
  const bigWeights = await openModelWeights(big.files, big.layout);
  const bigTok = await openTokenizer(big.files, bigWeights.shape);
  const L = bigWeights.shape.numBlocks;
  const opts = { backends: ['wasm' as const], threads: 1, maxSessionTokens, cacheBudgetBytes: 1 << 26 };
  const one = await createInThreadRuntime(ort, bigWeights, { ...opts, blocks: { start: 0, end: L }, client: true });
  await generateText(one, bigTok, prompt, { maxNewTokens: 4, sampler: samplerFor(greedy, 1) });
  const singleRun = await generateText(one, bigTok, prompt, { maxNewTokens: bigTokens, sampler: samplerFor(greedy, 1) });
  const singleMsPerToken = 1000 / singleRun.tokensPerSecond;
  console.log(`   single process (Node, wasm 1 thread): ${singleMsPerToken.toFixed(1)} ms/token`);
  const half = Math.ceil(L / 2);
  const bigSpans: BlockSpan[] = [{ start: 0, end: half }, { start: half, end: L }];
  const bigClient = await createInThreadRuntime(ort, bigWeights, { ...opts, client: true });
  const bigVols = await Promise.all(bigSpans.map((span) => createInThreadRuntime(ort, bigWeights, { ...opts, blocks: span })));
  const net = new MemoryNetwork();
  bigSpans.forEach((span, i) => {
    const host = new SessionHost(bigVols[i] ?? null);
    host.setBlocks({ span, cacheSlots: 100, maxSessionTokens, hiddenSize: bigWeights.shape.hiddenSize });
    net.createTransport(`b${i}`).onConnection((c) => host.attach(new FrameLink(c)));
  });
  const bigRoutes: RouteProvider = { requestRoute: () => Promise.resolve({ leaseId: 'l', chain: bigSpans.map((span, i) => ({ peerId: `b${i}`, span })) }), releaseRoute: () => Promise.resolve() };
  const bigSession = (): ClientSession => new ClientSession({ transport: net.createTransport(`c${Math.random()}`), routes: bigRoutes, model: clientModelFromRuntime(bigClient, bigWeights.shape, maxSessionTokens) });
  const bigIds = bigTok.encode(prompt, { bos: true });
  await bigSession().generate(bigIds, { maxNewTokens: 4, sampler: samplerFor(greedy, 1) });
  const inMem = await bigSession().generate(bigIds, { maxNewTokens: bigTokens, sampler: samplerFor(greedy, 1) });
  const inMemMs = median(inMem.perTokenMs);
  console.log(`   2 volunteers in one Node process (in-memory transport, 0 ms RTT): ${inMemMs.toFixed(1)} ms/token = ${(inMemMs / singleMsPerToken).toFixed(2)}× one process (same tokens: ${JSON.stringify(inMem.ids) === JSON.stringify(singleRun.ids) ? 'yes' : 'NO'})`);
  for (const r of [bigClient, ...bigVols]) await r.dispose();
  const measureSingle = async (): Promise<number> => 1000 / (await generateText(one, bigTok, prompt, { maxNewTokens: bigTokens, sampler: samplerFor(greedy, 1) })).tokensPerSecond;

  if (values.browser === true) {
    // (the single-process runtime `one` stays loaded: it is timed again after each configuration)
    const configsByName: Record<string, TabThreading> = {
      // The old default on this 2-core machine: min(4, cores) threads, onnxruntime's spinning pool.
      before: { label: 'before: 2 threads, spinning pool', threads: 2, spin: true },
      after: { label: 'after: the runtime defaults' },
      't2-nospin': { label: '2 threads, pool threads sleep when idle', threads: 2, spin: false },
      't1': { label: '1 thread', threads: 1 },
    };
    const configs = values['tab-configs'].split(',').map((c) => {
      const cfg = configsByName[c];
      if (cfg === undefined) throw new BouquetError('bad-argument', `--tab-configs: unknown '${c}' (known: ${Object.keys(configsByName).join(', ')})`);
      return cfg;
    });
    console.log(`\n5. the checkpoint over 2 volunteer tabs + a chat tab, headless Chromium on loopback (PeerJS/WebRTC), ${bigTokens} new tokens, median ms/token`);
    const servedBig = await loadServedModel(bigDir, { maxSessionTokens: 256 });
    const rows = await runBrowserSwarm({
      modelDir: bigDir, volunteers: 2, memoryBytes: half * servedBig.info.blockBytes + 8 * servedBig.info.cacheBytesPerBlock, maxTokens: bigTokens, prompt,
      single: { msPerToken: singleMsPerToken, ids: singleRun.ids }, measureSingle, configs, log: (s) => console.log(s),
    });
    console.log('   config | swarm ms/token | Σ RTT ms | single (timed after) | single + RTT ms | ratio | compute | volunteer hop/queue | round trips | chat tab + rest | same tokens');
    for (const r of rows) {
      const b = r.breakdown;
      console.log(`   ${r.label} | ${r.swarmMsPerToken.toFixed(1)} | ${r.rttMsPerToken.toFixed(2)} | ${r.singleMsPerToken.toFixed(1)} | ${r.targetMsPerToken.toFixed(1)} | ${r.ratio.toFixed(2)}× | ${b.computeMs.toFixed(1)} | ${b.volunteerOverheadMs.toFixed(1)} | ${b.roundTripsMs.toFixed(1)} | ${b.clientAndRestMs.toFixed(1)} | ${r.sameIdsAsSingle ? 'yes' : 'NO'}`);
    }
  }
  await one.dispose();
} finally {
  if (values['big-model'] === undefined) rmSync(bigDir, { recursive: true, force: true });
}
