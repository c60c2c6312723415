// The web app in headless Firefox (Debian's firefox-esr over WebDriver BiDi, driven by puppeteer-core,
// since playwright-core needs its own patched Firefox build): dashboard, volunteer and chat pages.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { BouquetServer } from '../../server/server.ts';
import { firefoxMissingReason, firefoxPath, watchPuppeteerErrors } from './firefox-namespace.ts';
import { buildApp, repoRoot } from './swarm-support.ts';
import { ProtocolVolunteer, startServer } from './ui-support.ts';

const skipReason = firefoxMissingReason();

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = path.join(repoRoot, 'test-results');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Waits until the element matching `selector` has text matching `pattern`; returns that text. */
async function waitForText(page: Page, selector: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await page.$eval(selector, (e) => e.textContent ?? '').catch(() => '')).trim();
    if (pattern.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${selector}: expected text matching ${String(pattern)}, last saw '${last}'`);
}

/** Polls an attribute (BiDi's waitForSelector missed attribute-only changes here). */
async function waitForAttribute(page: Page, selector: string, name: string, want: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await page.$eval(selector, (e, n) => e.getAttribute(n), name).catch(() => null);
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const text = await page.$eval(selector, (e) => e.textContent ?? '').catch(() => '');
  throw new Error(`${selector}: ${name} stayed '${String(last)}' (page says '${text.trim()}'), wanted '${want}'`);
}

// Loopback only: the server runs in this process; the volunteers are protocol-level stand-ins
// (no WebRTC is needed to render these pages), so no network namespace is required.
describe.skipIf(skipReason !== null)(`web app in Firefox${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  let app: { dir: string; remove: () => void };
  let server: BouquetServer;
  let browser: Browser;
  const volunteers: ProtocolVolunteer[] = [];

  beforeAll(async () => {
    app = await buildApp();
    server = await startServer(app.dir, { coordinator: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5_000 } });
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: firefoxPath, headless: true });
  }, 180_000);

  afterAll(async () => {
    for (const v of volunteers) v.leave();
    await browser?.close();
    await server?.close();
    app?.remove();
  });

  it('dashboard: lists every volunteer live and drops one that leaves', async () => {
    for (const [id, tau] of [['ff-a', 1.5], ['ff-b', 2.5]] as const) {
      volunteers.push(new ProtocolVolunteer(server.url, id, { decodeMsPerBlock: tau }));
    }
    await Promise.all(volunteers.map((v) => v.serving));
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = watchPuppeteerErrors(page);
    await page.goto(`${server.url}/dashboard.html`);
    await waitForText(page, '[data-testid="connection"]', /live/);
    await page.waitForSelector('tr[data-peer-id="ff-a"][data-state="serving"]');
    await page.waitForSelector('tr[data-peer-id="ff-b"][data-state="serving"]');
    expect(await waitForText(page, '[data-testid="volunteer-count"]', /^2$/)).toBe('2');
    volunteers[1]?.leave();
    await waitForText(page, '[data-testid="volunteer-count"]', /^1$/, 20_000);
    await screenshot(page, 'ui-firefox-dashboard');
    expect(errors).toEqual([]);
    volunteers[0]?.leave(); // the volunteer-page test below should be the only volunteer
    await page.close();
  });

  it('volunteer page: shows what the device can give and a labelled start control', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 390, height: 844 }); // phone-sized
    const errors = watchPuppeteerErrors(page);
    await page.goto(`${server.url}/volunteer.html`);
    await waitForText(page, '[data-testid="wasm"]', /wasm with \d+ threads? of \d+ cores/);
    const status = await page.$eval('[data-testid="volunteer-status"]', (e) => e.getAttribute('data-status'));
    expect(status).toBe('idle');
    await page.waitForSelector('[data-testid="start"]:enabled', { timeout: 30_000 });
    await screenshot(page, 'ui-firefox-volunteer');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('volunteer page: Start measures, registers, loads its blocks on wasm and reaches "serving"', async () => {
    // The same browser context as the volunteer page before it (a worker whose onnxruntime start went
    // silent used to leave this page at "Starting the runtime…"; the page now replaces such a worker).
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = watchPuppeteerErrors(page);
    await page.goto(`${server.url}/volunteer.html`);
    await page.waitForSelector('[data-testid="start"]:enabled', { timeout: 30_000 });
    await page.click('[data-testid="start"]');
    await waitForAttribute(page, '[data-testid="volunteer-status"]', 'data-status', 'serving', 120_000);
    expect(await waitForText(page, '[data-testid="served-span"]', /^\d+–\d+$/)).toMatch(/^\d+–\d+$/);
    await screenshot(page, 'ui-firefox-volunteer-serving');
    expect(errors.filter((e) => !e.includes('404') && !/tokenizer/i.test(e))).toEqual([]);
    await page.close();
  }, 180_000);

  it('chat page: loads the model and offers the sampling settings with labels', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = watchPuppeteerErrors(page);
    await page.goto(`${server.url}/chat.html`);
    await waitForText(page, '[data-testid="engine-ready"]', /text continuation/, 90_000);
    for (const label of ['Temperature', 'Max tokens', 'Message']) {
      const labelled = await page.$$eval('label', (ls, want) => ls.some((l) => (l.textContent ?? '').includes(want)), label);
      expect(labelled, label).toBe(true);
    }
    await screenshot(page, 'ui-firefox-chat');
    // The tokenizer probe of a llama2.c model answers 404 for tokenizer.json by design.
    expect(errors.filter((e) => !e.includes('404') && !/tokenizer/i.test(e))).toEqual([]);
    await page.close();
  });
});
