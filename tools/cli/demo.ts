// `bouquet demo`: a server, N volunteer tabs and a chat tab in headless Chromium (or, without Chromium, Node peers); sends a prompt and shows the swarm at work.
import { BouquetError } from '../../core/errors/index.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { intOption, parseVerbArgs, verbFailure } from './sim-common.ts';
import { writeTinyModel } from './tiny-model.ts';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { isBouquetError } from '../../core/errors/index.ts';
import { createServer, defaultWebDir, loadServedModel, modelFolder, serverLogger, terminalProgress, type BouquetServer } from '../../server/index.ts';
import { placementMemoryBytes, budgetBytesFor } from '../../core/model/index.ts';
import { capacityShortfall } from '../../core/placement/index.ts';
import type { HeadlessGlobals } from '../../web/headless/index.ts';
import { demoVolunteerMemoryBytes, failoverVictim, printDemoAnswer, runNodeDemo, type NodeDemoSwarm } from './demo-node.ts';

const usage = `usage: bouquet demo [options]

Starts the server, opens volunteer tabs and a chat tab in headless Chromium, loads the model, sends a
prompt and prints the streamed text, the route, per-token latency and any failover. Then keeps the
swarm up and prints the chat and dashboard URLs until Ctrl-C (unless --once).

  --model <path|hf:id>         model folder, or hf:owner/repo[@rev] from the hub (default ../shared/models/stories260K, else a tiny random model)
  --volunteers <n>             volunteer tabs (default 3)
  --prompt <text>              prompt (default "Once upon a time")
  --max-tokens <n>             tokens to generate at most (default 64)
  --temperature <t>            0 = greedy (default 0)
  --seed <n>                   sampling seed (default 1)
  --backend auto|webgpu|wasm   auto: WebGPU when the browser has a real adapter, else wasm (default auto; Node peers: the same rule, WebGPU through Dawn)
  --peers auto|tabs|node       tabs in headless Chromium, or Node volunteers and a Node client (no browser);
                               auto: tabs when Chromium is found, else Node peers (default auto)
  --port <n>                   server port, 0 for any free one (default 8787)
  --max-session-tokens <n>     longest session the volunteers' caches hold (default 256)
  --volunteer-memory-mb <n>    every volunteer's whole memory budget, MiB: the runtime's own share and its measured
                               cost per byte of weights + cache (a tab's, or a Node process's with Node peers) are
                               taken off (docs/api.md; default: room for ⌈L / N⌉ + 1 blocks and 4 sessions); a model
                               the volunteers cannot hold fails at once
  --kill-volunteer-after <k>   close one volunteer tab on the route after k tokens (shows failover)
  --web-dir <path>             built web app to serve (default: a fresh build in a temporary folder; the package's own)
  --once                       exit after the answer
  --json                       print only {"text","ids","route","failovers","perTokenMs"} on stdout (progress goes to stderr)
  --log-level <level>          the server's log level, on stderr: trace, debug, info, warn, error, silent (default error)
  -h, --help                   show this help

Tabs need Chromium (Debian: apt-get install chromium; or set CHROMIUM_PATH); without it the demo runs on
Node peers (WebRTC through node-datachannel, wasm) and says so.`;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const fail = (message: string): number => verbFailure('demo', message);

function buildWebApp(log: (s: string) => void): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-demo-web-'));
  log('building the web app (vite)…');
  // In a child process: vite's bundler, run in this one, left the Node peers' WebRTC (node-datachannel
  // under PeerJS) failing on their first connection (a candidate after close crashed the demo).
  const viteBin = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [viteBin, 'build', path.join(repoRoot, 'web'), '--config', path.join(repoRoot, 'vite.config.ts'), '--outDir', dir, '--emptyOutDir', '--logLevel', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new BouquetError('internal', `the web app's build (vite) failed with exit code ${String(r.status)}`);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new BouquetError('timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

/** Runs the verb; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseVerbArgs('demo', argv, {
      model: { type: 'string' }, volunteers: { type: 'string' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string' },
      temperature: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, port: { type: 'string' },
      'max-session-tokens': { type: 'string' }, 'volunteer-memory-mb': { type: 'string' }, 'kill-volunteer-after': { type: 'string' }, 'web-dir': { type: 'string' },
      peers: { type: 'string' }, once: { type: 'boolean' }, json: { type: 'boolean' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, usage);
  if (typeof parsed === 'number') return parsed;
  const values: Record<string, string | boolean | undefined> = parsed;
  let volunteers: number;
  let maxTokens: number;
  let port: number;
  let maxSessionTokens: number;
  let killAfter: number | undefined;
  let volunteerMemoryMb: number | undefined;
  let temperature: number;
  let seed: number;
  try {
    volunteers = intOption(values.volunteers as string | undefined, 'volunteers', 3, 1);
    maxTokens = intOption(values['max-tokens'] as string | undefined, 'max-tokens', 64, 1);
    port = intOption(values.port as string | undefined, 'port', 8787, 0);
    maxSessionTokens = intOption(values['max-session-tokens'] as string | undefined, 'max-session-tokens', 256, 2);
    seed = intOption(values.seed as string | undefined, 'seed', 1, 0);
    const mem = values['volunteer-memory-mb'] as string | undefined;
    volunteerMemoryMb = mem === undefined ? undefined : intOption(mem, 'volunteer-memory-mb', 0, 1);
    const k = values['kill-volunteer-after'] as string | undefined;
    killAfter = k === undefined ? undefined : intOption(k, 'kill-volunteer-after', 0, 0);
    const t = Number(values.temperature ?? '0');
    if (!Number.isFinite(t) || t < 0) throw new BouquetError('bad-argument', `--temperature must be ≥ 0 (got '${String(values.temperature)}')`);
    temperature = t;
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  const logLevel = (values['log-level'] as string | undefined) ?? 'error';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) return fail(`--log-level '${logLevel}' is not a pino level`);
  const backendOpt = (values.backend as string | undefined) ?? 'auto';
  if (!['auto', 'webgpu', 'wasm'].includes(backendOpt)) return fail(`--backend must be auto, webgpu or wasm (got '${backendOpt}')`);
  const peersOpt = (values.peers as string | undefined) ?? 'auto';
  if (!['auto', 'tabs', 'node'].includes(peersOpt)) return fail(`--peers must be auto, tabs or node (got '${peersOpt}')`);
  if (killAfter !== undefined && volunteers < 2) return fail('--kill-volunteer-after needs at least 2 volunteers (someone must take over)');
  const sharedModel = path.join(repoRoot, '..', 'shared', 'models', 'stories260K');
  let tinyModelDir: string | undefined;
  if (values.model === undefined && !existsSync(sharedModel)) {
    // A fresh clone or an installed package has no ../shared: a tiny random model keeps the demo runnable offline.
    // Named tiny-random in its own temporary folder: the served model id is the folder's name.
    tinyModelDir = writeTinyModel(path.join(mkdtempSync(path.join(os.tmpdir(), 'bouquet-demo-model-')), 'tiny-random'));
    console.error(`[demo] no --model and no ${sharedModel}: using a tiny random model generated in ${tinyModelDir} (its text is noise, not meaningful; give --model <folder|hf:owner/repo> for a real one)`);
  }
  const removeTinyModel = (): void => {
    if (tinyModelDir !== undefined) rmSync(path.dirname(tinyModelDir), { recursive: true, force: true });
  };
  const failClean = (message: string): number => {
    removeTinyModel();
    return fail(message);
  };
  const modelSpec = (values.model as string | undefined) ?? tinyModelDir ?? sharedModel;
  let modelPath: string;
  let modelId: string | undefined;
  if (modelSpec.startsWith('hf:')) {
    try {
      const local = await modelFolder(modelSpec, { onProgress: terminalProgress() });
      modelPath = local.path;
      modelId = local.id;
    } catch (e) {
      if (isBouquetError(e)) return failClean(`${e.message} [${e.code}]`);
      throw e;
    }
  } else {
    modelPath = path.resolve(modelSpec);
    if (!existsSync(modelPath)) return failClean(`model '${modelPath}' not found (give --model a model folder or hf:owner/repo)`);
  }
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  // Node peers when asked for, or when there is no Chromium (said below): their budget is converted with the Node runtime's costs.
  const runtimeKind = peersOpt === 'node' || (peersOpt !== 'tabs' && !existsSync(chromiumPath)) ? 'node' : 'wasm';
  // A budget the volunteers cannot hold the model in: one coded line now, not a 300 s wait for blocks nobody can load.
  if (volunteerMemoryMb !== undefined) {
    try {
      const { info } = await loadServedModel(modelPath, { maxSessionTokens, ...(modelId !== undefined ? { modelId } : {}) });
      const short = capacityShortfall(info, Array<number>(volunteers).fill(placementMemoryBytes(volunteerMemoryMb * 2 ** 20, runtimeKind)));
      if (short !== null) {
        console.error(`bouquet demo: ${short.message} [${short.code}]`);
        removeTinyModel();
        return 1;
      }
    } catch (e) {
      if (isBouquetError(e)) return failClean(`${e.message} [${e.code}]`);
      throw e;
    }
  }
  const json = values.json === true;
  const prompt = (values.prompt as string | undefined) ?? 'Once upon a time';
  const log = (s: string): void => {
    console.error(`[demo] ${s}`);
  };
  let playwright: typeof import('playwright-core') | undefined;
  let nodePeers = peersOpt === 'node';
  if (!nodePeers && !existsSync(chromiumPath)) {
    if (peersOpt === 'tabs') return failClean(`Chromium not found at ${chromiumPath}: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH`);
    log(`Chromium not found at ${chromiumPath}: running the swarm on Node peers instead (Node volunteers and a Node client over WebRTC; wasm, or WebGPU through Dawn on a real GPU)`);
    nodePeers = true;
  }
  if (!nodePeers) {
    try {
      playwright = await import('playwright-core');
    } catch {
      return failClean('playwright-core is not installed: run npm install in the repository');
    }
  }

  let built: { dir: string; remove: () => void } | undefined;
  let server: BouquetServer | undefined;
  let browser: Browser | undefined;
  let nodeSwarm: NodeDemoSwarm | undefined;
  // Each step bounded: a wedged browser or socket must not keep the command from exiting.
  const bounded = (p: Promise<unknown> | undefined, ms: number): Promise<unknown> =>
    Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
  const cleanup = async (): Promise<void> => {
    log('stopping the swarm…');
    await bounded(browser?.close(), 10_000);
    await bounded(nodeSwarm?.close(), 10_000);
    await bounded(server?.close(), 10_000);
    built?.remove();
    removeTinyModel();
  };
  // After the answer: exit (--once), or keep the swarm up until Ctrl-C.
  const stayUp = async (url: string): Promise<number> => {
    if (values.once !== true) {
      console.log(`\nthe swarm stays up; open ${url}/ (chat) and ${url}/dashboard.html (dashboard). Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    await cleanup();
    // vite's bundler, playwright and libdatachannel can leave idle handles behind; they must not keep the demo from exiting.
    // The timer is unref'd: it only fires if something else still holds the event loop.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    return 0;
  };
  try {
    // A fresh build by default: a stale dist/web would run yesterday's client against today's server.
    let webDir = values['web-dir'] as string | undefined;
    // Node peers need no pages; the app is built only for someone to open it afterwards (not with --once).
    if (webDir === undefined && !(nodePeers && values.once === true)) {
      if (existsSync(path.join(repoRoot, 'vite.config.ts'))) {
        built = buildWebApp(log);
        webDir = built.dir;
      } else {
        // The installed package: the app was built when the package was, and ships beside the code.
        webDir = defaultWebDir;
        if (!existsSync(path.join(webDir, 'headless-chat.html'))) return failClean(`the built web app is missing from ${webDir} (reinstall the package)`);
      }
    } else if (webDir !== undefined && !existsSync(path.join(webDir, 'headless-chat.html'))) {
      return failClean(`--web-dir ${webDir} has no headless-chat.html (build it with npm run build, or leave --web-dir out)`);
    }
    server = await createServer({ port, host: '127.0.0.1', model: modelPath, ...(webDir !== undefined ? { webDir } : {}), logger: serverLogger(logLevel, 'bouquet-demo', process.stderr), modelSizing: { maxSessionTokens, ...(modelId !== undefined ? { modelId } : {}) } });
    const url = server.url;
    const coordinator = server.coordinator;
    log(`server at ${url} (model ${server.model.info.id}, ${server.model.info.numBlocks} blocks)`);
    if (nodePeers || playwright === undefined) {
      nodeSwarm = await runNodeDemo({
        server, volunteers, backend: backendOpt as 'auto' | 'webgpu' | 'wasm', prompt, maxTokens, temperature, seed, killAfter, json, log, waitFor,
        ...(volunteerMemoryMb !== undefined ? { budgetBytes: volunteerMemoryMb * 2 ** 20 } : {}),
      });
      printDemoAnswer(nodeSwarm.answer, json);
      return await stayUp(url);
    }
    browser = await playwright.chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,MediaRouter', '--allow-loopback-in-peer-connection',
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding', ...(backendOpt === 'wasm' ? [] : ['--enable-unsafe-webgpu']),
      ],
    });
    const context: BrowserContext = await browser.newContext({ permissions: ['microphone', 'camera'] });
    // WebGPU "when the browser has it": a real adapter, not the SwiftShader fallback (≈50× slower than wasm).
    let backend = backendOpt;
    if (backend === 'auto') {
      const probe = await context.newPage();
      await probe.goto(`${url}/headless-chat.html?probe=1`).catch(() => undefined);
      const real = await probe.evaluate(async () => {
        // Runs in the page: typed without DOM (tools/ compiles with Node's libs).
        type Adapter = { info?: { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean };
        const gpu = (globalThis as unknown as { navigator: { gpu?: { requestAdapter(): Promise<Adapter | null> } } }).navigator.gpu;
        const a = await gpu?.requestAdapter().catch(() => null);
        return a !== undefined && a !== null && a.info?.isFallbackAdapter !== true && a.isFallbackAdapter !== true;
      }).catch(() => false);
      await probe.close();
      backend = real ? 'webgpu,wasm' : 'wasm';
    }
    log(`backend: ${backend}`);
    const info = server.model.info;
    // The tab's whole budget (its page registers what is left for weights + cache at their nominal sizes).
    const budget = volunteerMemoryMb !== undefined ? volunteerMemoryMb * 2 ** 20 : budgetBytesFor(demoVolunteerMemoryBytes(info, volunteers), 'wasm');
    log(`each volunteer tab's budget: ${(budget / 2 ** 20).toFixed(1)} MiB, ${(placementMemoryBytes(budget, 'wasm') / 2 ** 20).toFixed(1)} MiB of it for weights + cache at their nominal sizes (a block is ${(info.blockBytes / 2 ** 20).toFixed(1)} MiB, one session's cache per block ${(info.cacheBytesPerBlock / 2 ** 20).toFixed(2)} MiB)`);
    const tabs: Page[] = [];
    for (let i = 0; i < volunteers; i++) {
      const page = await context.newPage();
      await page.goto(`${url}/headless-volunteer.html?backend=${backend}&budget=${budget}`);
      tabs.push(page);
    }
    log(`${volunteers} volunteer tabs opened; waiting for them to measure, register and load…`);
    await waitFor('the volunteers to cover every block', () => {
      const s = coordinator.state();
      // Once every tab has registered and been placed, a model they cannot hold is final: say so now.
      const placedAfterAll = s.volunteers.length === volunteers && s.volunteers.every((v) => v.joinedAtMs <= s.placement.computedAtMs);
      if (placedAfterAll && s.placement.error?.code === 'infeasible') throw new BouquetError('infeasible', s.placement.error.message);
      return s.volunteers.length === volunteers && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan))
        && s.placement.uncoveredBlocks.length === 0;
    }, 300_000);
    for (const v of coordinator.state().volunteers) log(`volunteer ${v.peerId}: blocks ${v.span === null ? 'none' : `[${v.span.start}, ${v.span.end})`} on ${v.backend}, τ ${v.decodeMsPerBlock.toFixed(2)} ms/block`);

    const chat = await context.newPage();
    let killed: string | undefined;
    let chatPeer = '';
    await chat.exposeFunction('bouquetOnToken', (piece: string, index: number) => {
      if (!json) process.stdout.write(piece);
      if (killAfter !== undefined && index + 1 === killAfter && killed === undefined) {
        const victim = failoverVictim(coordinator.state(), chatPeer);
        if (victim === undefined) return;
        killed = victim;
        void (async () => {
          for (const t of tabs) {
            const id = await t.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetVolunteer?.snapshot().peerId).catch(() => undefined);
            if (id === victim) {
              await t.close();
              if (!json) process.stdout.write(`\n[demo] closed volunteer tab ${victim} after ${killAfter} tokens\n`);
              return;
            }
          }
        })();
      }
    });
    await chat.goto(`${url}/headless-chat.html?backend=${backend}`);
    // The callbacks run in the page: they read its handle through HeadlessGlobals and may use no import.
    await chat.waitForFunction(() => {
      const c = (globalThis as unknown as HeadlessGlobals).bouquetChat;
      return c?.ready === true || (c?.error ?? null) !== null;
    }, undefined, { timeout: 120_000 });
    const chatError = await chat.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.error ?? null);
    if (chatError !== null) throw new BouquetError('internal', `chat tab: ${chatError}`);
    chatPeer = await chat.evaluate(() => (globalThis as unknown as HeadlessGlobals).bouquetChat?.peerId ?? '');
    if (!json) process.stdout.write(`\n${prompt}`);
    const result = await chat.evaluate((req) => (globalThis as unknown as HeadlessGlobals).bouquetChat?.generate(req) ?? null, { prompt, maxNewTokens: maxTokens, temperature, seed });
    if (result === null) throw new BouquetError('internal', 'chat tab: no bouquetChat handle');
    printDemoAnswer(result, json);
    return await stayUp(url);
  } catch (e) {
    await cleanup();
    console.error(`bouquet demo: ${e instanceof Error ? e.message : String(e)}${isBouquetError(e) ? ` [${e.code}]` : ''}`);
    setTimeout(() => process.exit(process.exitCode ?? 1), 2000).unref();
    return 1;
  }
}
