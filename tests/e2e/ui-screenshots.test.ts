// Every page at desktop (1280×800) and phone (390×844) size in headless Chromium: screenshots for people, and what a stranger relies on.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { routeReleasePath, type RouteGranted } from '../../core/api/index.ts';
import { describe, expect, it } from 'vitest';
import { chromiumMissingReason, repoRoot } from './swarm-support.ts';
import { launchChromium, ProtocolVolunteer, useLoopbackApp, watchPageErrors, withoutModelProbes } from './ui-support.ts';

const skipReason = chromiumMissingReason();
const shotsDir = path.join(repoRoot, 'test-results', 'screenshots');
const sizes = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** How far the page is wider than its viewport, px (0: no horizontal scrolling). */
function overflowPx(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

// Needs Chromium (the server and the protocol volunteers run in this process, on loopback); without it the suite says why and skips.
describe.skipIf(skipReason !== null)(`page screenshots${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  const ctx = useLoopbackApp(launchChromium);

  it('home, volunteer, chat and dashboard fit a 390 px phone, show the privacy note, and hide the jargon until "details"', async () => {
    mkdirSync(shotsDir, { recursive: true });
    // Two protocol-level volunteers cover the model: the home page says one can chat, the dashboard has rows.
    for (const id of ['shot-a', 'shot-b']) ctx.volunteers.push(new ProtocolVolunteer(ctx.server.url, id, { decodeMsPerBlock: id === 'shot-a' ? 1.5 : 2.5 }));
    await Promise.all(ctx.volunteers.map((v) => v.serving));

    for (const size of sizes) {
      const page = await ctx.browser.newPage({ viewport: { width: size.width, height: size.height } });
      const errors = watchPageErrors(page);
      const shoot = async (name: string): Promise<void> => {
        await page.screenshot({ path: path.join(shotsDir, `${name}-${size.name}.png`), fullPage: true });
        expect({ page: name, size: size.name, overflowPx: await overflowPx(page) }).toEqual({ page: name, size: size.name, overflowPx: 0 });
      };

      await page.goto(`${ctx.server.url}/index.html`);
      await page.locator('[data-testid="can-chat"][data-can-chat="yes"]').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('home-details').count()).toBe(0); // policy names are details
      await shoot('home');
      await page.getByTestId('details-toggle').check();
      expect(await page.getByTestId('home-details').textContent()).toMatch(/placement \S+, routing \S+/);
      await page.getByTestId('details-toggle').uncheck(); // the choice is kept per browser: the other pages start plain

      await page.goto(`${ctx.server.url}/volunteer.html`);
      await page.getByTestId('start').waitFor();
      await expect.poll(() => page.getByTestId('budget').textContent(), { timeout: 30_000 }).toMatch(/MiB$/); // sized for a tiny model, not GiB
      expect(await page.getByTestId('privacy-note').textContent()).toContain('other people');
      await shoot('volunteer');

      await page.goto(`${ctx.server.url}/chat.html`);
      await page.getByTestId('engine-ready').waitFor({ timeout: 90_000 });
      expect(await page.getByTestId('privacy-note').textContent()).toContain('not to the server');
      await shoot('chat');

      await page.goto(`${ctx.server.url}/dashboard.html`);
      await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
      for (const id of ['shot-a', 'shot-b']) await page.locator(`tr[data-peer-id="${id}"][data-state="serving"]`).waitFor();
      // One request finishes with measured times: the table gets a row and the latency chart a point.
      const granted = (await (
        await fetch(`${ctx.server.url}/api/routes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ clientId: `shot-client-${size.name}`, promptTokens: 8, maxNewTokens: 16 }),
        })
      ).json()) as RouteGranted;
      await fetch(`${ctx.server.url}${routeReleasePath(granted.leaseId)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ leaseSecret: granted.leaseSecret, measured: { totalMs: 320, tokens: 16, firstTokenMs: 45 } }),
      });
      await page.locator(`tr[data-lease-tag="${granted.leaseTag}"]`).getByText('released').waitFor();
      const legend = page.getByTestId('latency-series').locator('.u-legend .u-value');
      await legend.first().waitFor();
      // Before any hover the legend shows the latest values, not uPlot's "--".
      await expect.poll(async () => (await legend.allTextContents()).join(' | ')).toMatch(/20\.0 ms/);
      expect((await legend.allTextContents()).filter((t) => t.trim() === '--')).toEqual([]);
      await shoot('dashboard');

      expect(withoutModelProbes(errors)).toEqual([]);
      await page.close();
    }
  }, 240_000);
});
