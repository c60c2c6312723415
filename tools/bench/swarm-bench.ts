// `npm run bench:swarm` (tools/bench/swarm-bench.ts): per-hop protocol overhead, swarm vs single-process tokens/s, and emulated RTTs vs core/perf's prediction.
// Node, in-memory transport (delays injected per peer pair), in-thread wasm runtimes on stories260K. Prints figures; asserts nothing.
import { BouquetError } from '../../core/errors/index.ts';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { requestTime } from '../../core/perf/index.ts';
import { FrameLink, MemoryNetwork, type HiddenStates } from '../../core/protocol/index.ts';
import type { BlockSpan, SwarmSnapshot } from '../../core/swarm/index.ts';
import { median } from '../../core/stats/index.ts';
import { ClientSession, clientModelFromRuntime, samplerFor, type RouteProvider } from '../../web/client/index.ts';
import { SessionHost } from '../../web/volunteer/index.ts';
import { resolveModel } from '../../server/index.ts';
import type { HeadlessGlobals } from '../../web/headless/index.ts';
import { createInThreadRuntime, generateText, probeSpeed, type BlockRuntime, type SessionRuntime, openTokenizer, openModelWeights } from '../../worker/index.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '../shared/models/stories260K' },
    tokens: { type: 'string', default: '64' },
    rtts: { type: 'string', default: '0,10,25,50' },
    repeats: { type: 'string', default: '3' },
    browser: { type: 'boolean', default: false },
  },
});
const modelDir = values.model;
const maxTokens = Number(values.tokens);
const rtts = values.rtts.split(',').map(Number);
const repeats = Number(values.repeats);
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

let directStepMs = NaN;
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
  directStepMs = median(direct.slice(20));
  console.log(`   one block, runtime step called directly, median:   ${median(direct.slice(20)).toFixed(3)} ms`);
  console.log(`   one block, through the hop, median:                ${median(viaHop.slice(20)).toFixed(3)} ms  (overhead ${(median(viaHop.slice(20)) - median(direct.slice(20))).toFixed(3)} ms)`);
}

// 2. and 3. Tokens/s: single process vs a 3-volunteer swarm; then emulated RTTs vs core/perf.
const full = await rt({ start: 0, end: shape.numBlocks }, true);
const single: number[] = [];
let referenceIds: number[] = [];
await generateText(full, tokenizer, prompt, { maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1) }); // warm-up
for (let r = 0; r < repeats; r++) {
  const res = await generateText(full, tokenizer, prompt, { maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1) });
  single.push(res.tokensPerSecond);
  referenceIds = res.ids;
}
const spans: BlockSpan[] = [{ start: 0, end: 2 }, { start: 2, end: 4 }, { start: 4, end: shape.numBlocks }];
const clientRt = await rt(undefined, true);
const volunteerRts = await Promise.all(spans.map((s) => rt(s)));
const probe = await probeSpeed(ort, shape, { backends: ['wasm'], threads: 1, decodeSteps: 32, repeats: 3, prefillLengths: [4, 8, 16] });
const promptIds = tokenizer.encode(prompt, { bos: true });

async function swarmRun(rttMs: number): Promise<{ tokPerS: number; perTokenMs: number; totalMs: number; ttftMs: number; tokens: number; same: boolean }> {
  const net = new MemoryNetwork({ delayMs: (from, to) => (from === 'client' || to === 'client' ? rttMs / 2 : 0) });
  spans.forEach((span, i) => {
    const host = new SessionHost(volunteerRts[i] ?? null);
    host.setBlocks({ span, cacheSlots: 100, maxSessionTokens, hiddenSize: d });
    net.createTransport(`v${i}`).onConnection((c) => host.attach(new FrameLink(c)));
  });
  const routes: RouteProvider = {
    requestRoute: () => Promise.resolve({ leaseId: 'l', chain: spans.map((span, i) => ({ peerId: `v${i}`, span })) }),
    releaseRoute: () => Promise.resolve(),
  };
  const session = new ClientSession({ transport: net.createTransport('client'), routes, model: clientModelFromRuntime(clientRt, shape, maxSessionTokens) });
  const res = await session.generate(promptIds, { maxNewTokens: maxTokens, sampler: samplerFor(greedy, 1), stopTokenIds: [tokenizer.bosId, ...tokenizer.eosIds] });
  const decodeMs = res.perTokenMs.reduce((a, b) => a + b, 0);
  return {
    tokPerS: ((res.ids.length - 1) * 1000) / decodeMs, perTokenMs: median(res.perTokenMs), totalMs: res.totalMs, ttftMs: res.ttftMs,
    tokens: res.ids.length, same: JSON.stringify(res.ids) === JSON.stringify(referenceIds),
  };
}

await swarmRun(0); // warm-up: JIT, first ORT runs of each session shape
const zero: Awaited<ReturnType<typeof swarmRun>>[] = [];
for (let r = 0; r < Math.max(repeats, 5); r++) zero.push(await swarmRun(0));
console.log('\n2. tokens/s, decode (tokens after the first), median of %d (single) and %d (swarm) runs', repeats, zero.length);
console.log(`   single process (bouquet generate's loop):  ${median(single).toFixed(1)} tok/s`);
console.log(`   3-volunteer swarm [0,2) [2,4) [4,${shape.numBlocks}), 0 ms RTT: ${median(zero.map((z) => z.tokPerS)).toFixed(1)} tok/s  (same tokens as single process: ${zero.every((z) => z.same) ? 'yes' : 'NO'})`);

console.log('\n3. emulated client↔volunteer RTT (delay injected in the transport) vs core/perf prediction for the chain');
console.log(`   probe: τ = ${probe.decodeMsPerBlock.toFixed(3)} ms/block/token, τᴵ(l) = ${probe.prefillMsPerBlock.perTokenMs.toFixed(3)}·l + ${probe.prefillMsPerBlock.fixedMs.toFixed(3)} ms`);
// The per-message overhead the model needs: measured at 0 ms RTT as (per-token latency − compute) / hops.
const zeroPerToken = median(zero.map((z) => z.perTokenMs));
const computePerToken = shape.numBlocks * probe.decodeMsPerBlock;
const messageOverheadMs = Math.max(0, (zeroPerToken - computePerToken) / spans.length);
console.log(`   per-message overhead fitted at 0 ms RTT (incl. the client's embed + head): ${messageOverheadMs.toFixed(3)} ms per hop`);
console.log('   RTT ms | measured per-token ms (median) | predicted ms | measured total ms | predicted total ms | tokens equal');
for (const rttMs of rtts) {
  const runs: Awaited<ReturnType<typeof swarmRun>>[] = [];
  // At 0 ms the runs above are reused (the overhead was fitted on them: predicted = measured there by construction).
  if (rttMs === 0) runs.push(...zero);
  else for (let r = 0; r < Math.max(1, repeats - 1); r++) runs.push(await swarmRun(rttMs));
  const lOut = runs[0]?.tokens ?? maxTokens;
  const snapshot: SwarmSnapshot = {
    model: { numBlocks: shape.numBlocks, blockBytes: 0, cacheBytesPerBlock: 0 },
    servers: spans.map((_, i) => ({ id: `v${i}`, memoryBytes: 1, decodeMsPerBlock: probe.decodeMsPerBlock, prefillMsPerBlock: probe.prefillMsPerBlock })),
    clients: [{ id: 'client' }],
    network: {
      clientServerRttMs: { client: Object.fromEntries(spans.map((_, i) => [`v${i}`, rttMs])) },
      messageOverheadMs, prefillOverheadMs: { perTokenMs: 0, fixedMs: messageOverheadMs },
    },
    workload: { arrivalRatePerS: 0, meanInputTokens: promptIds.length, meanOutputTokens: lOut },
  };
  const chain = { hops: spans.map((span, i) => ({ serverId: `v${i}`, span })) };
  const t = requestTime(snapshot, 'client', chain, promptIds.length, lOut);
  const decodePredicted = spans.length * (rttMs + messageOverheadMs) + computePerToken;
  console.log(`   ${String(rttMs).padStart(6)} | ${median(runs.map((r) => r.perTokenMs)).toFixed(2).padStart(30)} | ${decodePredicted.toFixed(2).padStart(12)} | ${median(runs.map((r) => r.totalMs)).toFixed(0).padStart(17)} | ${t.totalMs.toFixed(0).padStart(18)} | ${runs.every((r) => r.same) ? 'yes' : 'NO'}`);
}
for (const r of runtimes) await r.dispose();

// 4. (--browser) The same hop over real WebRTC on loopback: a chat tab pings a volunteer tab and runs one-token
//    steps on one block (the volunteer's runtime in its worker). A benchmark, not a test: loopback is allowed here.
if (values.browser === true) {
  const { chromium } = await import('playwright-core');
  const { build } = await import('vite');
  const { createServer } = await import('../../server/index.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const repoRoot = path.resolve(import.meta.dirname, '..', '..');
  const webDir = mkdtempSync(path.join(tmpdir(), 'bouquet-bench-web-'));
  await build({ configFile: path.join(repoRoot, 'vite.config.ts'), root: path.join(repoRoot, 'web'), logLevel: 'error', build: { outDir: webDir, emptyOutDir: true } });
  const server = await createServer({ port: 0, model: modelDir, webDir, logger: 'silent' });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--allow-loopback-in-peer-connection', '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup'],
  });
  try {
    const context = await browser.newContext({ permissions: ['microphone', 'camera'] });
    const volunteerTab = await context.newPage();
    await volunteerTab.goto(`${server.url}/headless-volunteer.html?backend=wasm&threads=1&memory=${64 * 1024 * 1024}`);
    const end = Date.now() + 240_000;
    while (!server.coordinator.state().volunteers.some((v) => v.state === 'serving' && v.span !== null) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    const volunteer = server.coordinator.state().volunteers.find((v) => v.span !== null);
    if (volunteer?.span == null) throw new BouquetError('internal', 'the volunteer tab did not start serving');
    const chatTab = await context.newPage();
    await chatTab.goto(`${server.url}/headless-chat.html?backend=wasm`);
    // The callbacks run in the page: they read its handle through HeadlessGlobals and may use no import.
    await chatTab.waitForFunction(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.ready === true, undefined, { timeout: 120_000 });
    const n = 300;
    const hop = await chatTab.evaluate(([peer, block, count]) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.measureHop(peer, block, count) ?? null, [volunteer.peerId, volunteer.span.start, n] as const);
    if (hop === null) throw new BouquetError('internal', 'chat tab: no bouquetChat handle');
    const ping = median(hop.pingMs.slice(50));
    const step = median(hop.stepMs.slice(50));
    console.log('\n4. the hop over WebRTC on loopback (PeerJS data channel, Chromium tabs; volunteer runtime in a worker), median of %d', n - 50);
    console.log(`   ping frame (16 B) round trip:                     ${ping.toFixed(3)} ms`);
    console.log(`   one-token step on one block (286 B each way):      ${step.toFixed(3)} ms`);
    console.log(`   step minus the runtime's compute in Node (above):  ${(step - directStepMs).toFixed(3)} ms per hop`);
  } finally {
    await browser.close();
    await server.close();
    rmSync(webDir, { recursive: true, force: true });
  }
}
