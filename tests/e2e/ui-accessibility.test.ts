// Every page of the web app in headless Chromium: each control has an accessible name (Chromium's own
// accessibility tree), every visible control is reachable with the Tab key, and nothing overflows a phone-sized screen.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissingReason } from './swarm-support.ts';
import { launchChromium, ProtocolVolunteer, useLoopbackApp, watchPageErrors, withoutModelProbes } from './ui-support.ts';

const skipReason = chromiumMissingReason();

/** Roles a person operates; each needs a name a screen reader can say. */
const interactiveRoles = new Set(['button', 'link', 'textbox', 'spinbutton', 'combobox', 'checkbox', 'radio', 'slider', 'switch', 'searchbox', 'listbox', 'tab', 'menuitem']);

/** Controls of `page` (by role) in Chromium's accessibility tree: how many, and those without an accessible name. */
async function controlNames(page: Page): Promise<{ controls: number; unnamed: string[] }> {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
    nodes: { ignored: boolean; role?: { value?: string }; name?: { value?: string }; backendDOMNodeId?: number }[];
  };
  const out: string[] = [];
  let controls = 0;
  for (const n of nodes) {
    const role = n.role?.value ?? '';
    if (n.ignored || !interactiveRoles.has(role)) continue;
    controls++;
    const name = (n.name?.value ?? '').trim();
    if (name !== '') continue;
    let html = '?';
    if (n.backendDOMNodeId !== undefined) {
      const { object } = (await cdp.send('DOM.resolveNode', { backendNodeId: n.backendDOMNodeId })) as { object: { objectId?: string } };
      if (object.objectId !== undefined) {
        const r = (await cdp.send('Runtime.callFunctionOn', {
          objectId: object.objectId,
          functionDeclaration: 'function () { return this.outerHTML.slice(0, 160); }',
          returnByValue: true,
        })) as { result: { value?: unknown } };
        html = String(r.result.value);
      }
    }
    out.push(`${role}: ${html}`);
  }
  await cdp.detach();
  return { controls, unnamed: out };
}

/** Visible, enabled controls (with folded sections opened) that pressing Tab from the top never focuses (outerHTML of each). */
async function unreachableByTab(page: Page): Promise<string[]> {
  const count = await page.evaluate(() => {
    const sel = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
    // Folded sections (the chat's sampling settings) are opened, so their controls are checked too.
    for (const d of document.querySelectorAll('details')) d.open = true;
    const els = [...document.querySelectorAll<HTMLElement>(sel)].filter((e) => e.checkVisibility({ visibilityProperty: true }));
    els.forEach((e, i) => (e.dataset.a11yIdx = String(i)));
    (document.activeElement as HTMLElement | null)?.blur();
    return els.length;
  });
  const reached = new Set<string>();
  for (let i = 0; i < count * 2 + 10; i++) {
    await page.keyboard.press('Tab');
    const idx = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.a11yIdx ?? null);
    if (idx !== null) reached.add(idx);
    if (reached.size === count) break;
  }
  return page.evaluate(
    (got) => [...document.querySelectorAll<HTMLElement>('[data-a11y-idx]')].filter((e) => !got.includes(e.dataset.a11yIdx ?? '')).map((e) => e.outerHTML.slice(0, 160)),
    [...reached],
  );
}

/** How far the page is wider than its viewport, CSS px (0 when nothing overflows sideways). */
function horizontalOverflowPx(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth));
}

// Needs Chromium (the server and protocol-level stand-in volunteers run in this process, on loopback).
describe.skipIf(skipReason !== null)(`web app accessibility${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  const ctx = useLoopbackApp(launchChromium);
  beforeAll(async () => {
    // A swarm on the dashboard, so its per-policy "Switch" buttons and rows are there to check.
    for (const [id, tau] of [['a11y-a', 1.5], ['a11y-b', 2.5]] as const) ctx.volunteers.push(new ProtocolVolunteer(ctx.server.url, id, { decodeMsPerBlock: tau }));
    await Promise.all(ctx.volunteers.map((v) => v.serving));
  });

  const pages: { path: string; ready: (page: Page) => Promise<void> }[] = [
    { path: '/', ready: async (p) => void (await p.getByRole('link', { name: /volunteer/i }).first().waitFor()) },
    { path: '/volunteer.html', ready: async (p) => void (await p.getByTestId('start').and(p.locator(':enabled')).waitFor({ timeout: 30_000 })) },
    { path: '/chat.html', ready: async (p) => void (await p.getByTestId('engine-ready').waitFor({ timeout: 90_000 })) },
    {
      path: '/dashboard.html',
      ready: async (p) => {
        await p.locator('tr[data-peer-id="a11y-b"][data-state="serving"]').waitFor();
        await p.locator('tr[data-policy] button').first().waitFor();
      },
    },
  ];

  for (const { path, ready } of pages) {
    it(`${path}: every control is named, reachable with Tab, and the page fits a phone-sized screen`, async () => {
      const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = watchPageErrors(page);
      await page.goto(`${ctx.server.url}${path}`);
      await ready(page);
      const names = await controlNames(page);
      expect(names.controls).toBeGreaterThan(2);
      expect(names.unnamed).toEqual([]);
      expect(await unreachableByTab(page)).toEqual([]);
      await page.setViewportSize({ width: 390, height: 844 });
      await expect.poll(() => horizontalOverflowPx(page), { timeout: 5_000 }).toBe(0);
      expect(withoutModelProbes(errors)).toEqual([]);
      await page.close();
    }, 120_000);
  }
});
