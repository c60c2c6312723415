// Support for the browser swarm tests: builds the app, runs `bouquet serve` and Chromium inside a network
// namespace, opens headless volunteer and chat tabs, and reads the swarm state through a page.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { ChatRequest, ChatResult, RawProbeResult } from '../../web/headless/index.ts';
import type { SwarmState } from '../../core/api/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { VolunteerSnapshot } from '../../web/volunteer/index.ts';
import { chromiumArgs, chromiumPath } from '../../tools/browser/chromium.ts';
import { failInCi, type NetNamespace } from '../support/netns.ts';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const stories260K = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K');

/** Why the browser swarm tests cannot run here, or null. */
export function chromiumMissingReason(): string | null {
  return failInCi(existsSync(chromiumPath) ? null : `Chromium not found at ${chromiumPath} (install it: apt-get install chromium)`);
}

/** Builds the web app into a fresh temporary folder (with onnxruntime-web's files under ort/). */
export async function buildApp(): Promise<{ dir: string; remove: () => void }> {
  const { build } = await import('vite');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-swarm-web-'));
  await build({ configFile: path.join(repoRoot, 'vite.config.ts'), root: path.join(repoRoot, 'web'), logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A `bouquet serve` process inside the namespace. */
export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
}

// One state dir per test process (the coordinator's key survives a restart of its server, as in use); removed at exit.
const stateDir = path.join(os.tmpdir(), `bouquet-e2e-state-${process.pid}`);
process.once('exit', () => rmSync(stateDir, { recursive: true, force: true }));

/**
 * Starts `bouquet serve` in `ns` on `port` and resolves once it listens. `extra` may repeat `--host`
 * (the last one wins); `url` is what pages open then (default http://127.0.0.1:port); `model` what it
 * serves (default stories260K).
 */
export function serveInNamespace(
  ns: NetNamespace,
  webDir: string,
  port: number,
  extra: string[] = [],
  { url = `http://127.0.0.1:${port}`, model = stories260K }: { url?: string; model?: string } = {},
): Promise<ServeProcess & { log(): string }> {
  const child = ns.spawn(process.execPath, [
    path.join(repoRoot, 'bin', 'bouquet.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--model', model,
    '--web-dir', webDir, '--log-level', 'info', '--state-dir', stateDir, ...extra,
  ], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bouquet serve did not start in 30 s:\n${log}`)), 30_000);
    const onData = (b: Buffer): void => {
      log = (log + b.toString()).slice(-262_144);
      if (log.includes('listening')) {
        clearTimeout(timer);
        resolve({
          url, child, log: () => log,
          stop: () => new Promise<void>((ok) => {
            if (child.exitCode !== null || child.signalCode !== null) return ok();
            child.once('exit', () => ok());
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
          }),
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bouquet serve exited with ${String(code)}:\n${log}`));
    });
  });
}

/** Chromium inside the namespace with the flags WebRTC needs on a loopback-only network (platform-notes). */
export async function launchInNamespace(ns: NetNamespace): Promise<{ browser: Browser; context: BrowserContext }> {
  const browser = await chromium.launch({
    executablePath: ns.wrap(chromiumPath),
    args: chromiumArgs({ extraArgs: ['--allow-loopback-in-peer-connection', '--disable-background-timer-throttling', '--disable-renderer-backgrounding'] }),
  });
  const context = await browser.newContext({ permissions: ['microphone', 'camera'] });
  return { browser, context };
}

/** Opens a headless volunteer tab. */
export async function openVolunteer(context: BrowserContext, url: string, memoryBytes: number, as: 'memory' | 'budget' = 'memory'): Promise<Page> {
  const page = await context.newPage();
  // 'memory': the M_j it registers (nominal weights + cache); 'budget': the tab's whole budget, the runtime's cost taken off.
  await page.goto(`${url}/headless-volunteer.html?backend=wasm&threads=1&${as}=${memoryBytes}`);
  return page;
}

/** A volunteer tab's state. */
export function volunteerSnapshot(page: Page): Promise<VolunteerSnapshot | { error: string }> {
  return page.evaluate(() => {
    const v = window.bouquetVolunteer;
    if (v === undefined) return { error: 'no agent yet' };
    if (v.error !== null) return { error: v.error };
    try {
      return v.snapshot();
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** Opens a headless chat tab and waits until it is ready. */
export async function openChat(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}/headless-chat.html?backend=wasm`);
  await page.waitForFunction(() => window.bouquetChat?.ready === true || (window.bouquetChat?.error ?? null) !== null, undefined, { timeout: 60_000 });
  const error = await page.evaluate(() => window.bouquetChat?.error ?? null);
  if (error !== null) throw new Error(`chat page failed: ${error}`);
  return page;
}

/** Runs one generation in a chat tab. */
export function chatGenerate(page: Page, req: ChatRequest): Promise<ChatResult> {
  return page.evaluate((r) => {
    const chat = window.bouquetChat;
    if (chat === undefined) throw new Error('no chat');
    return chat.generate(r);
  }, req);
}

/** Sends raw packets from a chat tab to a peer and returns its replies. */
export function chatProbeRaw(page: Page, peerId: string, packets: number[][], waitMs: number): Promise<RawProbeResult> {
  return page.evaluate(([p, pk, w]) => {
    const chat = window.bouquetChat;
    if (chat === undefined) throw new Error('no chat');
    return chat.probeRaw(p, pk, w);
  }, [peerId, packets, waitMs] as const);
}

/** The coordinator's swarm state, fetched by a page inside the namespace. */
export function swarmState(page: Page): Promise<SwarmState> {
  return page.evaluate(async () => (await fetch('/api/swarm')).json() as Promise<SwarmState>);
}

/** True when exactly `n` volunteers are registered, every one serving, and no block is uncovered. */
export function servingAll(s: { volunteers: readonly { state: string }[]; placement: { uncoveredBlocks: readonly number[] } }, n: number): boolean {
  return s.volunteers.length === n && s.volunteers.every((v) => v.state === 'serving') && s.placement.uncoveredBlocks.length === 0;
}

/** Polls until `cond` holds. */
export async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < end) {
    try {
      if (await cond()) return;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${lastError !== '' ? ` (last error: ${lastError})` : ''}`);
}

/** What `bouquet generate` prints with --json for the prompt, greedy (on `model`, default stories260K). */
export function generateReference(prompt: string, maxTokens: number, model = stories260K): { text: string; ids: number[] } {
  const r = spawnSync(process.execPath, [
    path.join(repoRoot, 'bin', 'bouquet.js'), 'generate', '--model', model, '--prompt', prompt, '--max-tokens', String(maxTokens),
    '--temperature', '0', '--threads', '1', '--json',
  ], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`bouquet generate failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { text: string; ids: number[] };
}

/** A `bouquet` CLI process on this machine (no namespace), its stdout and stderr gathered. */
export interface BouquetProcess {
  child: ChildProcess;
  log: () => string;
}

/** Starts `bin/bouquet.js args…` in the repository root, with `env` over this process's environment. */
export function startBouquet(args: string[], env: NodeJS.ProcessEnv = {}): BouquetProcess {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'bouquet.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
  return { child, log: () => log };
}

/**
 * Stops it with `signal` and waits for the exit: its exit code, or 'killed' when it was still running
 * after `killAfterMs` (then SIGKILL; default 10 s).
 */
export function stopBouquet(p: BouquetProcess, signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<number | null | 'killed'> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve(p.child.exitCode);
    let killed = false;
    const t = setTimeout(() => { killed = true; p.child.kill('SIGKILL'); }, killAfterMs);
    p.child.once('exit', (code) => { clearTimeout(t); resolve(killed ? 'killed' : code); });
    p.child.kill(signal);
  });
}

/** The part of the swarm state the failover tests read. */
interface RoutesLite {
  recentRoutes: readonly { clientId: string; outcome: string; chain: readonly { peerId: string; span: BlockSpan }[] }[];
}

/**
 * The volunteer a failover test takes away: the last hop of an active route, of `clientId` when given,
 * and covering blocks [0, numBlocks) when given (a verified-results check is a route of its own, for one hop's span).
 */
export function activeRouteVictim(state: RoutesLite, match: { clientId?: string; numBlocks?: number } = {}): string | undefined {
  const route = state.recentRoutes.find((r) => r.outcome === 'active'
    && (match.clientId === undefined || r.clientId === match.clientId)
    && (match.numBlocks === undefined || (r.chain[0]?.span.start === 0 && r.chain.at(-1)?.span.end === match.numBlocks)));
  return route?.chain.at(-1)?.peerId;
}

/** The volunteer pages by their peer ids (pages that report no peer yet are left out). */
async function pagesByPeerId(pages: readonly Page[]): Promise<Map<string, Page>> {
  const byPeer = new Map<string, Page>();
  for (const page of pages) {
    const snap = await volunteerSnapshot(page);
    if (!('error' in snap)) byPeer.set(snap.peerId, page);
  }
  return byPeer;
}

/**
 * The volunteer tab a browser failover test takes away: the last hop of the chat tab's active route,
 * looked up once through the chat page from the first token on (`lookUp` in the token callback), so
 * that its tab can be closed mid-answer without racing the end of a fast generation.
 */
export class RouteVictim {
  /** The tab found (once the lookup found one). */
  victim: { peerId: string; page: Page } | undefined;
  #lookup: Promise<void> | undefined;

  private constructor(private readonly chat: Page, private readonly chatPeer: string, private readonly pageByPeer: Map<string, Page>) {}

  /** Indexes the volunteer tabs by peer id and reads the chat tab's own (call before the request starts). */
  static async watch(chat: Page, volunteers: readonly Page[]): Promise<RouteVictim> {
    const pageByPeer = await pagesByPeerId(volunteers);
    const chatPeer = await chat.evaluate(() => window.bouquetChat?.peerId ?? '');
    return new RouteVictim(chat, chatPeer, pageByPeer);
  }

  /** Starts the lookup (once; later calls do nothing). */
  lookUp(): void {
    this.#lookup ??= swarmState(this.chat).then((s) => {
      const peerId = activeRouteVictim(s, { clientId: this.chatPeer });
      const page = peerId === undefined ? undefined : this.pageByPeer.get(peerId);
      if (peerId !== undefined && page !== undefined) this.victim = { peerId, page };
    });
  }

  /** Resolves once the lookup, if started, is done. */
  settled(): Promise<void> {
    return this.#lookup ?? Promise.resolve();
  }
}
