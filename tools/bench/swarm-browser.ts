// bench:swarm --browser: a ≥ 100M-parameter checkpoint split over volunteer tabs in headless Chromium on loopback, against one process plus the measured round trips, with a breakdown of each token's time.
import { BouquetError } from '../../core/errors/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { median } from '../../core/stats/index.ts';
import type { HeadlessGlobals } from '../../web/headless/index.ts';
import type { VolunteerSnapshot } from '../../web/volunteer/index.ts';
import { launchChromium } from '../browser/chromium.ts';

/** How the tabs run onnxruntime: threads per tab (undefined: the runtime's default) and whether idle pool threads spin. */
export interface TabThreading {
  label: string;
  threads?: number;
  spin?: boolean;
}

/** One configuration's figures, ms per decoded token unless said otherwise. */
export interface BrowserSwarmRow {
  label: string;
  /** Threads each tab's runtime reported. */
  threadsReported: string;
  tokens: number;
  swarmMsPerToken: number;
  /** Σ over the hops of the median ping round trip (16-byte frame, chat tab ↔ volunteer tab). */
  rttMsPerToken: number;
  /** Single process, ms/token, timed right after this configuration's run. */
  singleMsPerToken: number;
  /** single-process ms/token + rttMsPerToken. */
  targetMsPerToken: number;
  ratio: number;
  /** Where a token's (mean) time goes: volunteers' onnxruntime runs; their host's wall time beyond it (worker hop, queue); the round trips; the rest (chat tab: embed, head, sampling, frames, event loops). */
  breakdown: { computeMs: number; volunteerOverheadMs: number; roundTripsMs: number; clientAndRestMs: number };
  sameIdsAsSingle: boolean;
  hops: number;
}

/** What the run needs. */
export interface BrowserSwarmOptions {
  modelDir: string;
  volunteers: number;
  /** Per-tab memory budget, bytes (sized so the model must be split). */
  memoryBytes: number;
  maxTokens: number;
  prompt: string;
  /** Single process: ms per decoded token and the greedy ids (Node, same onnxruntime-web wasm). */
  single: { msPerToken: number; ids: number[] };
  /** Times the single process again (ms/token), right after each configuration's run while its tabs sit idle: load drifts on a shared machine. */
  measureSingle?: () => Promise<number>;
  configs: TabThreading[];
  log: (s: string) => void;
}

function query(t: TabThreading): string {
  return `${t.threads !== undefined ? `&threads=${t.threads}` : ''}${t.spin !== undefined ? `&spin=${t.spin ? 1 : 0}` : ''}`;
}

async function volunteerStats(page: Page): Promise<VolunteerSnapshot | null> {
  return page.evaluate(() => {
    try {
      return (globalThis as unknown as HeadlessGlobals).bouquetVolunteer?.snapshot() ?? null;
    } catch {
      return null;
    }
  });
}

/** Runs every configuration on a fresh server and browser (threads are fixed when a tab's worker starts). */
export async function runBrowserSwarm(o: BrowserSwarmOptions): Promise<BrowserSwarmRow[]> {
  const { build } = await import('vite');
  const { createServer } = await import('../../server/index.ts');
  const repoRoot = path.resolve(import.meta.dirname, '..', '..');
  const webDir = mkdtempSync(path.join(tmpdir(), 'bouquet-bench-web-'));
  const rows: BrowserSwarmRow[] = [];
  try {
    await build({ configFile: path.join(repoRoot, 'vite.config.ts'), root: path.join(repoRoot, 'web'), logLevel: 'error', build: { outDir: webDir, emptyOutDir: true } });
    for (const cfg of o.configs) {
      const server = await createServer({ port: 0, host: '127.0.0.1', model: o.modelDir, webDir, logger: 'silent', modelSizing: { maxSessionTokens: 256 } });
      let browser: Browser | undefined;
      try {
        browser = await launchChromium({ extraArgs: ['--allow-loopback-in-peer-connection', '--disable-background-timer-throttling', '--disable-renderer-backgrounding'] });
        const context = await browser.newContext({ permissions: ['microphone', 'camera'] });
        const tabs: Page[] = [];
        for (let i = 0; i < o.volunteers; i++) {
          const page = await context.newPage();
          await page.goto(`${server.url}/headless-volunteer.html?backend=wasm&memory=${o.memoryBytes}${query(cfg)}`);
          tabs.push(page);
        }
        const end = Date.now() + 400_000;
        const ready = (): boolean => {
          const s = server.coordinator.state();
          return s.volunteers.length === o.volunteers && s.placement.uncoveredBlocks.length === 0 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan));
        };
        while (!ready()) {
          if (Date.now() > end) throw new BouquetError('timeout', `${cfg.label}: the volunteer tabs did not cover the model in 400 s`);
          await new Promise((r) => setTimeout(r, 250));
        }
        const chat = await context.newPage();
        await chat.goto(`${server.url}/headless-chat.html?backend=wasm${query(cfg)}`);
        await chat.waitForFunction(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.ready === true, undefined, { timeout: 180_000 });
        const gen = () => chat.evaluate((req) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.generate(req) ?? null, { prompt: o.prompt, maxNewTokens: o.maxTokens, temperature: 0 });
        await gen(); // warm-up: connections, sessions, V8 tiering
        const before = await Promise.all(tabs.map(volunteerStats));
        const res = await gen();
        const after = await Promise.all(tabs.map(volunteerStats));
        if (res === null) throw new BouquetError('internal', 'chat tab: no bouquetChat handle');
        // Round trips to each hop of the route: pings over the same data channels (after the run, on idle tabs).
        let rttMsPerToken = 0;
        for (const hop of res.route) {
          const m = await chat.evaluate(([peer, block]) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.measureHop(peer, block, 40) ?? null, [hop.peerId, hop.span.start] as const);
          if (m === null) throw new BouquetError('internal', 'chat tab: measureHop failed');
          rttMsPerToken += median(m.pingMs.slice(10));
        }
        const decodeSteps = res.perTokenMs.length;
        let computeMs = 0;
        let serveMs = 0;
        after.forEach((a, i) => {
          const b = before[i];
          if (a === null || b === null || b === undefined) return;
          computeMs += a.stepComputeMs - b.stepComputeMs;
          serveMs += a.stepServeMs - b.stepServeMs;
        });
        // Per decoded token: the prefill step's share is small next to 32+ decode steps but is taken out by scaling with steps.
        const steps = after.reduce((n, a, i) => n + ((a?.steps ?? 0) - (before[i]?.steps ?? 0)), 0) / Math.max(1, res.route.length);
        const perStep = (x: number): number => x / Math.max(1, steps);
        const swarmMsPerToken = median(res.perTokenMs);
        // The breakdown splits the mean (the parts are sums over the run); the steps include the prompt's, a few % more compute.
        const swarmMeanMsPerToken = res.perTokenMs.reduce((a, b) => a + b, 0) / Math.max(1, decodeSteps);
        const singleMsPerToken = o.measureSingle !== undefined ? await o.measureSingle() : o.single.msPerToken;
        const targetMsPerToken = singleMsPerToken + rttMsPerToken;
        const threadsReported = cfg.threads !== undefined ? String(cfg.threads) : 'default';
        const compute = perStep(computeMs);
        const volunteerOverhead = perStep(serveMs - computeMs);
        rows.push({
          label: cfg.label, threadsReported, tokens: res.ids.length, swarmMsPerToken, rttMsPerToken, singleMsPerToken, targetMsPerToken, ratio: swarmMsPerToken / targetMsPerToken,
          breakdown: { computeMs: compute, volunteerOverheadMs: volunteerOverhead, roundTripsMs: rttMsPerToken, clientAndRestMs: swarmMeanMsPerToken - compute - volunteerOverhead - rttMsPerToken },
          sameIdsAsSingle: JSON.stringify(res.ids) === JSON.stringify(o.single.ids), hops: res.route.length,
        });
        o.log(`   ${cfg.label}: ${swarmMsPerToken.toFixed(1)} ms/token over ${res.route.length} hops (${decodeSteps} decode steps)`);
      } finally {
        await browser?.close().catch(() => undefined);
        await server.close();
      }
    }
  } finally {
    rmSync(webDir, { recursive: true, force: true });
  }
  return rows;
}
