// The Svelte volunteer and chat pages in real Chromium inside a network namespace: volunteers reach "serving",
// the chat answers through them with the stories260K model and shows its route, the dashboard shows the request.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import { buildApp, chromiumMissingReason, generateReference, launchInNamespace, serveInNamespace, type ServeProcess } from './swarm-support.ts';
import { saveScreenshot, watchPageErrors, withoutModelProbes } from './ui-support.ts';

const skipReason = chromiumMissingReason() ?? netnsUnavailableReason();
const port = 8787;
const prompt = 'Once upon a time';
const maxNewTokens = 30;

let ns: NetNamespace | undefined;
let app: { dir: string; remove: () => void } | undefined;
let server: ServeProcess | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
const volunteerPages: Page[] = [];
let chatPage: Page | undefined;
let dashPage: Page | undefined;
const pageErrors: string[][] = [];

async function openVolunteerPage(width: number, height: number): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  pageErrors.push(watchPageErrors(page));
  await page.goto(`${server?.url ?? ''}/volunteer.html`);
  await page.getByTestId('start').and(page.locator(':enabled')).waitFor({ timeout: 30_000 });
  return page;
}

/** Waits for the volunteer status line to say `status`; on timeout, saves a screenshot and says what it showed. */
async function waitForStatus(page: Page, status: string, name: string, timeoutMs: number): Promise<void> {
  try {
    await page.locator(`[data-testid="volunteer-status"][data-status="${status}"]`).waitFor({ timeout: timeoutMs });
  } catch (e) {
    await saveScreenshot(page, `${name}-failed`);
    const shown = await page.getByTestId('volunteer-status').textContent();
    const alert = await page.getByRole('alert').allTextContents();
    throw new Error(`volunteer page never showed "${status}" (it shows "${shown ?? ''}"${alert.length > 0 ? `, alert: ${alert.join(' | ')}` : ''}): ${String(e)}`);
  }
}

// Needs Chromium and root for `ip netns`; without them the suite says why and skips.
describe.skipIf(skipReason !== null)(`Svelte pages on a live swarm${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    app = await buildApp();
    ns = await createNetNamespace();
    // The default policy (bouquet): both volunteer pages must reach "serving" with blocks (the second with a spare span).
    server = await serveInNamespace(ns, app.dir, port, ['--max-session-tokens', '128', '--heartbeat-interval-ms', '500', '--heartbeat-timeout-ms', '6000']);
    ({ browser, context } = await launchInNamespace(ns));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await ns?.remove();
    app?.remove();
  });

  it('volunteer page: shows what the device can give, then measures, registers, loads and reaches "serving"', async () => {
    const page = await openVolunteerPage(1100, 900);
    // No GPU here: the page says why WebGPU is not usable and offers wasm with its thread count.
    expect(await page.getByTestId('wasm').textContent()).toMatch(/wasm with \d+ threads? of \d+ cores/);
    expect(await page.getByTestId('volunteer-status').getAttribute('data-status')).toBe('idle');
    const clickedAt = Date.now();
    await page.getByTestId('start').click();
    await waitForStatus(page, 'serving', 'ui-volunteer-serving', 120_000);
    console.log(`volunteer page: Start → serving in ${((Date.now() - clickedAt) / 1000).toFixed(1)} s (speed probe, registration, load)`);
    expect(await page.getByTestId('volunteer-status').textContent()).toMatch(/Serving blocks 0–4/);
    expect(await page.getByTestId('served-span').textContent()).toBe('0–4');
    expect(await page.getByTestId('background-note').textContent()).toContain('background');
    await saveScreenshot(page, 'ui-volunteer-serving');
    volunteerPages.push(page);
    // A second volunteer on a phone-sized screen.
    const phone = await openVolunteerPage(390, 844);
    await phone.getByTestId('start').click();
    await waitForStatus(phone, 'serving', 'ui-volunteer-serving-phone', 120_000);
    await saveScreenshot(phone, 'ui-volunteer-serving-phone');
    volunteerPages.push(phone);
  }, 300_000);

  it('chat page: answers a prompt through the swarm, exactly as `bouquet generate` does greedily, and shows the route', async () => {
    expect(volunteerPages.length).toBe(2);
    const reference = generateReference(prompt, maxNewTokens);
    const page = await context.newPage();
    await page.setViewportSize({ width: 1000, height: 900 });
    const errors = watchPageErrors(page);
    await page.goto(`${server?.url ?? ''}/chat.html`);
    await page.getByTestId('engine-ready').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('engine-ready').textContent()).toContain('text continuation');

    // Greedy, as the reference; settings are labelled inputs reachable from the keyboard.
    await page.getByText('Sampling settings').click();
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max tokens').fill(String(maxNewTokens));
    await page.getByLabel('Message').fill(prompt);
    await page.getByLabel('Message').press('Enter');

    const answer = page.getByTestId('answer').last();
    await answer.and(page.locator('[data-state="done"]')).waitFor({ timeout: 120_000 });
    const text = (await answer.locator('.text').textContent()) ?? '';
    expect(text).toBe(reference.text);
    // The route: the peers and block ranges, every block covered once, in order.
    const hops = await answer.getByTestId('answer-route').locator('[data-peer-id]').allTextContents();
    expect(hops.length).toBeGreaterThanOrEqual(1);
    expect(hops.join(' ')).toMatch(/blocks 0/);
    expect(await answer.getByTestId('ttft').textContent()).toMatch(/ms|s$/);
    expect(await answer.getByTestId('per-token').textContent()).toMatch(/ms/);
    console.log(`chat page, greedy ${maxNewTokens} tokens: first token ${await answer.getByTestId('ttft').textContent()}, median per token ${await answer.getByTestId('per-token').textContent()}, route ${hops.join(' → ')}`);
    await saveScreenshot(page, 'ui-chat-answer');
    // A continuation shows the prompt it continued; the reply has copy and regenerate, and a greedy regenerate writes the same text anew.
    expect(await answer.getByTestId('continued-prompt').textContent()).toContain(prompt);
    await answer.getByTestId('copy').waitFor();
    await answer.getByTestId('regenerate').click();
    await page.getByTestId('answer').last().and(page.locator('[data-state="done"]')).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('answer').count()).toBe(1);
    expect(await page.getByTestId('answer').last().locator('.text').textContent()).toBe(reference.text);

    // Stop: a long answer stops at once, keeps its text, and the composer is usable again.
    await page.getByLabel('Temperature').fill('1');
    await page.getByLabel('Max tokens').fill('120');
    // A sampled answer may reach its end of text before the click lands (a loaded machine): then ask again, at most 3 times.
    let stopped: ReturnType<typeof page.getByTestId> | undefined;
    for (let attempt = 0; attempt < 3 && stopped === undefined; attempt++) {
      await page.getByLabel('Message').fill('The little dog');
      await page.getByTestId('send').click();
      const long = page.getByTestId('answer').nth(1 + attempt);
      await long.and(page.locator('[data-state="streaming"]')).waitFor();
      // Text, not the caret a streaming answer shows before its first token (a click then would stop it empty).
      await expect.poll(async () => ((await long.locator('.text').textContent()) ?? '').replace('▍', '').length, { timeout: 30_000 }).toBeGreaterThan(0);
      await page.getByTestId('stop').click({ timeout: 5_000 }).catch(() => undefined);
      await long.and(page.locator('[data-state="stopped"], [data-state="done"]')).waitFor({ timeout: 10_000 });
      if ((await long.getAttribute('data-state')) === 'stopped') stopped = long;
      await page.getByTestId('send').waitFor();
    }
    expect(stopped).toBeDefined();
    expect(((await stopped?.locator('.text').textContent()) ?? '').length).toBeGreaterThan(0);

    // The dashboard shows the request with its measured time.
    const dash = await context.newPage();
    await dash.goto(`${server?.url ?? ''}/dashboard.html`);
    await dash.locator('tr[data-lease-tag]').getByText('released').first().waitFor({ timeout: 30_000 });
    await saveScreenshot(dash, 'ui-dashboard-after-chat');
    expect(withoutModelProbes(errors)).toEqual([]);
    chatPage = page;
    dashPage = dash;
  }, 300_000);

  it('chat page: shows a failover inline when the volunteer tab serving the answer closes, and finishes the answer', async () => {
    const page = chatPage;
    if (page === undefined) throw new Error('no chat page');
    await page.getByLabel('Max tokens').fill('120');
    await page.getByLabel('Message').fill('Once upon a time, a cat');
    await page.getByTestId('send').click();
    const answer = page.getByTestId('answer').last();
    const firstHop = answer.getByTestId('answer-route').locator('[data-peer-id]').first();
    await firstHop.waitFor({ timeout: 30_000 });
    const servingPeer = await firstHop.getAttribute('data-peer-id');
    // The dashboard shows both volunteer tabs serving.
    const dash = dashPage;
    if (dash === undefined) throw new Error('no dashboard page');
    for (const v of volunteerPages) {
      const id = (await v.getByTestId('peer-id').textContent()) ?? '?';
      await dash.locator(`tr[data-peer-id="${id}"][data-state="serving"]`).waitFor({ timeout: 10_000 });
    }
    // Close the tab that serves it, abruptly, as a person closing it would.
    let closed = '';
    for (const v of volunteerPages.slice()) {
      if ((await v.getByTestId('peer-id').textContent()) === servingPeer) {
        await v.close();
        volunteerPages.splice(volunteerPages.indexOf(v), 1);
        closed = servingPeer ?? '';
      }
    }
    expect(closed).not.toBe('');
    // The dashboard marks the closed tab as gone as it happens (the row stays a few seconds, greyed).
    const leftOnDashboard = dash.locator(`tr[data-peer-id="${closed}"][data-state="left"]`).waitFor({ timeout: 20_000 });
    await answer.and(page.locator('[data-state="done"]')).waitFor({ timeout: 60_000 });
    const failover = answer.getByTestId('failover');
    expect(await failover.count()).toBeGreaterThanOrEqual(1);
    expect(await failover.first().textContent()).toContain(closed.slice(0, 10));
    // The route under the answer is the one it finished on: the closed peer is gone from it.
    expect(await answer.getByTestId('answer-route').locator(`[data-peer-id="${closed}"]`).count()).toBe(0);
    await saveScreenshot(page, 'ui-chat-failover');
    await page.setViewportSize({ width: 390, height: 844 });
    await saveScreenshot(page, 'ui-chat-phone');
    await leftOnDashboard;
    await dash.getByText(`${closed} left`).waitFor();
    await dash.locator(`tr[data-peer-id="${closed}"]`).waitFor({ state: 'detached', timeout: 15_000 });
    await saveScreenshot(dash, 'ui-dashboard-volunteer-left');
  }, 120_000);

  it('volunteer page: Stop leaves the swarm cleanly and says so', async () => {
    const page = volunteerPages[0];
    if (page === undefined) throw new Error('no volunteer page left');
    await page.getByTestId('stop').click();
    await waitForStatus(page, 'offline', 'ui-volunteer-stopped', 30_000);
    await page.getByTestId('start').waitFor();
    for (const e of pageErrors) expect(withoutModelProbes(e)).toEqual([]);
  }, 60_000);
});
