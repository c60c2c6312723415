// `npm run bench:regions`: three emulated regions (namespaces, packet delays between them), 2 volunteer tabs and 1 chat tab in each; measured per-token time per client against the simulator's prediction for the swarm exported live (GET /api/scenario).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { BouquetError } from '../../core/errors/index.ts';
import { chromiumPath } from '../browser/chromium.ts';
import { delayUnavailableReason, withNamespaces, type Delay } from '../netem/index.ts';
import { browserIn, probeRegionRtts, serverAddress, serveIn, wireRegions, type NamespacedServer } from './regions-topology.ts';
import { predictPerClient, type ChatRecord, type HostStepTimes } from './regions-predict.ts';
import type { HeadlessGlobals } from '../../web/headless/index.ts';
import type { SwarmState } from '../../core/api/index.ts';

const { values } = parseArgs({
  options: {
    rtts: { type: 'string', default: '20,60,90' },
    chats: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '48' },
    'timeout-s': { type: 'string', default: '900' },
    scenario: { type: 'string' },
  },
});
// RTT between regions 0–1, 0–2, 1–2, ms.
const pairRtts = values.rtts.split(',').map(Number);
const chats = Number(values.chats);
const tokens = Number(values.tokens);
const timeoutS = Number(values['timeout-s']);
if (pairRtts.length !== 3 || pairRtts.some((r) => !Number.isFinite(r) || r < 0 || r > 2000)) throw new BouquetError('bad-argument', '--rtts takes three RTTs in ms: regions 0–1, 0–2, 1–2');
if (!Number.isInteger(chats) || chats < 1 || chats > 20) throw new BouquetError('bad-argument', '--chats must be 1–20');
if (!Number.isInteger(tokens) || tokens < 2 || tokens > 200) throw new BouquetError('bad-argument', '--tokens must be 2–200');
if (!Number.isFinite(timeoutS) || timeoutS < 60 || timeoutS > 3600) throw new BouquetError('bad-argument', '--timeout-s must be 60–3600');
const [r01 = 0, r02 = 0, r12 = 0] = pairRtts;
const rttMatrix = [[0, r01, r02], [r01, 0, r12], [r02, r12, 0]];

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const modelDir = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K');
const port = 8797;
// R of BPRR's placement, fixed so the volunteers' budgets below give each exactly two blocks.
const reserveSessions = 2;
const origin = `http://${serverAddress}:${port}`;
const prompt = 'Once upon a time';
const t0 = Date.now();
const log = (s: string): void => console.log(`[regions +${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}`);

// Bounded in time, and SIGINT/SIGTERM end it the same way: process.exit runs the exit hooks that remove
// the delay rules (tools/netem/delay.ts) and the namespaces (links.ts); ours first kills what runs inside.
const namespaces: string[] = [];
process.on('exit', () => {
  for (const ns of namespaces) {
    for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter((p) => p.trim() !== '')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
setTimeout(() => {
  console.error(`bench:regions: stopped after its ${timeoutS} s limit`);
  process.exit(124);
}, timeoutS * 1000).unref();

async function swarm(page: Page): Promise<SwarmState> {
  return page.evaluate(async () => (await fetch('/api/swarm')).json() as Promise<SwarmState>);
}

/** A volunteer tab's step counters (its session host's: steps served, onnxruntime ms, ms from request to answer). */
async function stepTimes(page: Page): Promise<{ peerId: string; steps: number; computeMs: number; serveMs: number }> {
  return page.evaluate(() => {
    const s = (globalThis as unknown as HeadlessGlobals).bouquetVolunteer?.snapshot();
    return { peerId: s?.peerId ?? '', steps: s?.steps ?? 0, computeMs: s?.stepComputeMs ?? 0, serveMs: s?.stepServeMs ?? 0 };
  });
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new BouquetError('timeout', `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const why = delayUnavailableReason() ?? (existsSync(chromiumPath) ? null : `Chromium not found at ${chromiumPath}`);
  if (why !== null) {
    console.log(`bench:regions skipped: ${why}`);
    return;
  }
  log(`three regions, RTT 0–1 ${r01} ms, 0–2 ${r02} ms, 1–2 ${r12} ms; 2 volunteer tabs + 1 chat tab per region; ${chats} chats of ${tokens} tokens per client`);
  const { build } = await import('vite');
  const webDir = mkdtempSync(path.join(tmpdir(), 'bouquet-regions-web-'));
  const stateDir = mkdtempSync(path.join(tmpdir(), 'bouquet-regions-state-'));
  const browsers: { browser: Browser; remove(): void }[] = [];
  let server: NamespacedServer | undefined;
  let delays: Delay[] = [];
  try {
    await build({ configFile: path.join(repoRoot, 'vite.config.ts'), root: path.join(repoRoot, 'web'), logLevel: 'error', build: { outDir: webDir, emptyOutDir: true } });
    log('app built');
    await withNamespaces(4, async ([wan, ...regions]) => {
      if (wan === undefined || regions.length !== 3) throw new BouquetError('internal', 'four namespaces expected');
      namespaces.push(wan, ...regions);
      try {
        delays = await wireRegions(wan, regions, rttMatrix);
        const udp = await probeRegionRtts(regions, 20);
        log(`UDP RTT between regions (median of 20): 0–1 ${udp[0]?.[1]?.toFixed(1)} ms, 0–2 ${udp[0]?.[2]?.toFixed(1)} ms, 1–2 ${udp[1]?.[2]?.toFixed(1)} ms`);
        server = await serveIn(wan, ['--port', String(port), '--host', '0.0.0.0', '--model', modelDir, '--web-dir', webDir, '--state-dir', stateDir, '--log-level', 'warn', '--max-session-tokens', '256', '--reserve-sessions', String(reserveSessions)]);
        log('server listening in wan');
        const contexts = [];
        for (const ns of regions) {
          const b = await browserIn(ns, origin);
          browsers.push(b);
          contexts.push(b.context);
        }
        // Chat tabs first (one reads the model's sizes for the volunteers' budgets).
        const chatPages: Page[] = [];
        for (const ctx of contexts) {
          const page = await ctx.newPage();
          await page.goto(`${origin}/headless-chat.html?backend=wasm&threads=1`);
          await page.waitForFunction(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.ready === true || ((globalThis as unknown as HeadlessGlobals).bouquetChat?.error ?? null) !== null, undefined, { timeout: 120_000 });
          const err = await page.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.error ?? null);
          if (err !== null) throw new BouquetError('internal', `chat tab: ${err}`);
          chatPages.push(page);
        }
        const first = chatPages[0] as Page;
        const info = (await swarm(first)).model;
        // Room for two blocks with cache for the reserved sessions each (placement then holds 2 blocks a
        // volunteer): a chain has three hops and a region's two volunteers hold at most two of them, so every
        // chain leaves its client's region at least once.
        const memory = 2 * (info.blockBytes + reserveSessions * info.cacheBytesPerBlock) + Math.floor(info.cacheBytesPerBlock / 2);
        const regionOf = new Map<string, number>();
        const volunteerPages: Page[] = [];
        for (const [r, ctx] of contexts.entries()) {
          for (let k = 0; k < 2; k++) {
            const page = await ctx.newPage();
            await page.goto(`${origin}/headless-volunteer.html?backend=wasm&threads=1&memory=${memory}`);
            await page.waitForFunction(() => (globalThis as unknown as HeadlessGlobals).bouquetVolunteer?.snapshot !== undefined, undefined, { timeout: 60_000 });
            await until('the volunteer registered', async () => (await page.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetVolunteer?.snapshot().peerId ?? '')) !== '', 60_000);
            regionOf.set(await page.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetVolunteer?.snapshot().peerId ?? ''), r);
          volunteerPages.push(page);
          }
        }
        await until('six volunteers serving every block', async () => {
          const s = await swarm(first);
          return s.volunteers.length === 6 && s.placement.uncoveredBlocks.length === 0 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan));
        }, 300_000);
        const state = await swarm(first);
        const spans = Object.fromEntries(state.volunteers.map((v) => [v.peerId, v.span]));
        log(`serving: ${state.volunteers.map((v) => `${v.peerId.slice(0, 6)}@r${regionOf.get(v.peerId) ?? '?'} [${v.span?.start},${v.span?.end})`).join(' ')}`);
        const volunteerIds = state.volunteers.map((v) => v.peerId);
        const chatIds = await Promise.all(chatPages.map((p) => p.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.peerId ?? '')));
        // Each client measures its RTT to every volunteer (the next route request reports them), then one warm-up chat.
        const rttsByClient: Record<string, number>[] = [];
        for (const page of chatPages) {
          await page.evaluate((ids) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.measureRtts(ids), volunteerIds);
          await page.evaluate((req) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.generate(req), { prompt, maxNewTokens: 8, temperature: 0 });
        }
        log('RTTs measured, warm-up chats done');
        const records: ChatRecord[] = [];
        const before = await Promise.all(volunteerPages.map(stepTimes));
        // Interleaved rounds: load drift on the shared machine hits every client alike.
        for (let round = 0; round < chats; round++) {
          for (const [r, page] of chatPages.entries()) {
            const rtts = (await page.evaluate((ids) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.measureRtts(ids), volunteerIds)) ?? {};
            if (round === chats - 1) rttsByClient[r] = rtts;
            // Besides the chat, the same tab pings every volunteer every 250 ms while it runs: the RTT under the chat's own traffic.
            const { res, busyRtts } = await page.evaluate(async ([req, ids]) => {
              const h = (globalThis as unknown as HeadlessGlobals).bouquetChat;
              if (h === undefined) return { res: undefined, busyRtts: [] };
              let done = false;
              const gen = h.generate(req).finally(() => (done = true));
              const samples: Record<string, number>[] = [];
              await new Promise((r) => setTimeout(r, 300));
              while (!done && samples.length < 400) {
                samples.push(await h.measureRtts(ids));
                await new Promise((r) => setTimeout(r, 250));
              }
              return { res: await gen, busyRtts: samples };
            }, [{ prompt, maxNewTokens: tokens, temperature: 0 }, volunteerIds] as const);
            if (res === undefined) throw new BouquetError('internal', 'chat tab: no handle');
            records.push({
              clientId: chatIds[r] as string, region: r, outputTokens: res.ids.length, totalMs: res.totalMs, ttftMs: res.ttftMs, route: res.route.map((h) => ({ peerId: h.peerId, span: h.span })), busyRttsMs: busyRtts,
              ...(res.clientMsPerToken !== undefined ? { clientMsPerToken: res.clientMsPerToken } : {}),
            });
            log(`r${r} chat ${round + 1}: ${(res.totalMs / res.ids.length).toFixed(1)} ms/token over ${res.route.map((h) => `${h.peerId.slice(0, 6)}@r${regionOf.get(h.peerId) ?? '?'}`).join(' → ')}`);
          }
        }
        const after = await Promise.all(volunteerPages.map(stepTimes));
        const hostMs: Record<string, HostStepTimes> = {};
        after.forEach((a, i) => {
          const b = before[i];
          if (b === undefined || a.peerId !== b.peerId || a.steps <= b.steps) return;
          const n = a.steps - b.steps;
          hostMs[a.peerId] = { steps: n, computeMs: (a.computeMs - b.computeMs) / n, serveMs: (a.serveMs - b.serveMs) / n };
        });
        const exported = await first.evaluate(async () => (await fetch('/api/scenario?requests=100')).json() as Promise<Record<string, unknown>>);
        const scenarioFile = values.scenario ?? path.join(stateDir, 'regions-scenario.json');
        writeFileSync(scenarioFile, JSON.stringify(exported, null, 2));
        console.log('\nRTT a client measured (ping frame over its data channel) to the volunteers of each region, ms:');
        rttsByClient.forEach((row, r) => {
          const per = [0, 1, 2].map((q) => Object.entries(row).filter(([id]) => regionOf.get(id) === q).map(([, ms]) => ms.toFixed(1)).join('/'));
          console.log(`  client r${r}: ${per.map((v, q) => `r${q} ${v}`).join('   ')}   (applied: ${rttMatrix[r]?.join(' / ')})`);
        });
        const report = await predictPerClient(exported, records, spans, scenarioFile, hostMs);
        console.log(report);
      } finally {
        // Inside the namespaces' lifetime: browsers and server end cleanly before the namespaces go.
        for (const b of browsers) {
          await b.browser.close().catch(() => undefined);
          b.remove();
        }
        await server?.stop();
        for (const d of delays) await d.stop().catch(() => undefined);
      }
    });
  } finally {
    rmSync(webDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
