// Two models in one live swarm, in real Chromium inside a network namespace: `bouquet serve --model A --model B`,
// headless volunteer tabs that each take the model the swarm needs most, and a chat tab per model over WebRTC;
// each answer equals `bouquet generate`'s for its model.
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelsList } from '../../core/api/index.ts';
import type { ChatRequest, ChatResult } from '../../web/headless/index.ts';
import { createNetNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import { writeTinyFamily } from '../worker/support/tiny-families.ts';
import { buildApp, chromiumMissingReason, launchInNamespace, repoRoot, serveInNamespace, stories260K, until, type ServeProcess } from './swarm-support.ts';

const skipReason = chromiumMissingReason() ?? netnsUnavailableReason();
const port = 8787;
const prompt = 'Once upon a time';
const maxNewTokens = 24;
const maxSessionTokens = 64;

let ns: NetNamespace | undefined;
let app: { dir: string; remove: () => void } | undefined;
let server: ServeProcess | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let tinyDir = '';

/** What `bouquet generate --json` prints for the prompt, greedy, with one model. */
function bouquetGenerate(modelDir: string): { text: string; ids: number[] } {
  const r = spawnSync(process.execPath, [
    path.join(repoRoot, 'bin', 'bouquet.js'), 'generate', '--model', modelDir, '--prompt', prompt, '--max-tokens', String(maxNewTokens),
    '--temperature', '0', '--threads', '1', '--json',
  ], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`bouquet generate failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { text: string; ids: number[] };
}

async function modelsOf(page: Page): Promise<ModelsList> {
  return page.evaluate(async () => (await fetch('/api/models')).json() as Promise<ModelsList>);
}

// Needs Chromium and root for `ip netns`; without them the suite says why and skips.
describe.skipIf(skipReason !== null)(`two models in one browser swarm${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    tinyDir = (await writeTinyFamily('llama-2')).dir;
    app = await buildApp();
    ns = await createNetNamespace();
    // serveInNamespace names stories260K first; the tiny Llama is the second model.
    server = await serveInNamespace(ns, app.dir, port, [
      '--model', tinyDir, '--max-session-tokens', String(maxSessionTokens), '--heartbeat-interval-ms', '500', '--heartbeat-timeout-ms', '6000',
    ]);
    ({ browser, context } = await launchInNamespace(ns));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await ns?.remove();
    app?.remove();
    if (tinyDir !== '') await rm(tinyDir, { recursive: true, force: true });
  });

  it('volunteer tabs split between the models by need; a chat tab per model answers exactly as `bouquet generate`', async () => {
    const url = server?.url ?? '';
    const probe = await context.newPage();
    await probe.goto(`${url}/api/health`);
    const tinyId = path.basename(tinyDir);
    expect((await modelsOf(probe)).models.map((m) => m.model.id)).toEqual(['stories260K', tinyId]);

    // Each tab takes the model the server suggests when it opens (no ?model=): the first, then the one left without.
    const picked: string[] = [];
    for (let i = 0; i < 2; i++) {
      const page = await context.newPage();
      await page.goto(`${url}/headless-volunteer.html?backend=wasm&threads=1&memory=${64 << 20}`);
      await until(`volunteer tab ${i} registered`, async () => (await modelsOf(probe)).models.reduce((a, m) => a + m.volunteers, 0) === i + 1, 90_000);
      const list = await modelsOf(probe);
      picked.push(list.models.find((m) => m.volunteers === 1 && !picked.includes(m.model.id))?.model.id ?? '?');
    }
    expect(picked).toEqual(['stories260K', tinyId]);
    await until('both models fully served', async () => (await modelsOf(probe)).models.every((m) => m.fullyServed), 90_000);

    const expected = [bouquetGenerate(stories260K), bouquetGenerate(tinyDir)];
    expect(expected.every((e) => e.ids.length >= 12)).toBe(true);
    const chats = await Promise.all([stories260K, tinyDir].map(async (_dir, i) => {
      const page = await context.newPage();
      await page.goto(`${url}/headless-chat.html?backend=wasm&model=${encodeURIComponent(picked[i] ?? '')}`);
      await page.waitForFunction(() => window.bouquetChat?.ready === true || (window.bouquetChat?.error ?? null) !== null, undefined, { timeout: 60_000 });
      const error = await page.evaluate(() => window.bouquetChat?.error ?? null);
      if (error !== null) throw new Error(`chat tab for ${picked[i] ?? '?'} failed: ${error}`);
      return page.evaluate<ChatResult, ChatRequest>((r) => {
        const chat = window.bouquetChat;
        if (chat === undefined) throw new Error('no chat');
        return chat.generate(r);
      }, { prompt, maxNewTokens });
    }));
    for (const [i, chat] of chats.entries()) {
      expect(chat.ids).toEqual(expected[i]?.ids);
      expect(chat.text).toBe(expected[i]?.text);
      expect(chat.failovers).toEqual([]);
    }
    // The two chains are different tabs: each model was served by its own volunteer.
    expect(new Set(chats.map((c) => c.route[0]?.peerId)).size).toBe(2);
  }, 240_000);
});
