// Dashboard page in headless Chromium against a real server: every volunteer on the map, live departures, routed requests.
import { describe, expect, it } from 'vitest';
import { routeReleasePath, type RouteGranted } from '../../core/api/index.ts';
import { chromiumMissingReason } from './swarm-support.ts';
import { launchChromium, ProtocolVolunteer, saveScreenshot, useLoopbackApp, watchPageErrors } from './ui-support.ts';

const skipReason = chromiumMissingReason();

// Needs Chromium (the server and the volunteers run in this process, on loopback); without it the suite says why and skips.
describe.skipIf(skipReason !== null)(`dashboard page${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  const ctx = useLoopbackApp(launchChromium);
  const volunteers = ctx.volunteers;

  it('shows every volunteer, updates live when one leaves, and lists routed requests', async () => {
    for (const [id, tau] of [['vol-a', 1.5], ['vol-b', 2.5], ['vol-c', 3]] as const) {
      volunteers.push(new ProtocolVolunteer(ctx.server.url, id, { decodeMsPerBlock: tau }));
    }
    await Promise.all(volunteers.map((v) => v.serving));

    const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchPageErrors(page);
    await page.goto(`${ctx.server.url}/dashboard.html`);
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();

    for (const id of ['vol-a', 'vol-b', 'vol-c']) {
      await page.locator(`tr[data-peer-id="${id}"][data-state="serving"]`).waitFor();
    }
    await expect.poll(() => page.getByTestId('volunteer-count').textContent()).toBe('3');
    // Every block of stories260K is covered by at least one volunteer.
    await page.getByText('all blocks').waitFor();
    // Every placement policy's prediction for these volunteers, the exact MILP's included (it solves in
    // its own thread on the coordinator and arrives after the others).
    for (const policy of ['bprr', 'gbp-cr', 'milp']) {
      await page.locator(`tr[data-policy="${policy}"] td.num`).filter({ hasText: /\d ms|\d s/ }).waitFor({ timeout: 30_000 });
    }

    // A client asks for a route and releases it with measured times: the request appears with its chain.
    const granted = (await (
      await fetch(`${ctx.server.url}/api/routes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: 'ui-test-client', promptTokens: 8, maxNewTokens: 16 }),
      })
    ).json()) as RouteGranted;
    expect(granted.kind).toBe('route');
    const row = page.locator(`tr[data-lease-tag="${granted.leaseTag}"]`); // the public short hash, never the lease id
    await row.waitFor();
    expect(await row.textContent()).toContain(granted.chain[0]?.peerId ?? '?');
    await fetch(`${ctx.server.url}${routeReleasePath(granted.leaseId)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leaseSecret: granted.leaseSecret, measured: { totalMs: 320, tokens: 16, firstTokenMs: 45 } }),
    });
    await row.getByText('released').waitFor();
    await row.getByText('20.0 ms').waitFor(); // 320 ms / 16 tokens, measured
    await page.getByTestId('latency-series').locator('canvas').waitFor();

    // One volunteer leaves: its row is marked "left" at once, the count drops, the feed says why.
    volunteers.find((v) => v.peerId === 'vol-c')?.leave();
    await page.locator('tr[data-peer-id="vol-c"][data-state="left"]').waitFor();
    await expect.poll(() => page.getByTestId('volunteer-count').textContent()).toBe('2');
    await page.getByText('vol-c left (closed its tab)').waitFor();
    await saveScreenshot(page, 'ui-dashboard');
    // …and the row goes after a few seconds.
    await page.locator('tr[data-peer-id="vol-c"]').waitFor({ state: 'detached', timeout: 15_000 });

    expect(errors).toEqual([]);
    await page.close();
  });

  it('asks for confirmation before switching the placement policy; Escape cancels, confirming switches', async () => {
    const page = await ctx.browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors = watchPageErrors(page);
    await page.goto(`${ctx.server.url}/dashboard.html`);
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
    const inForce = await page.getByTestId('placement-policy').textContent();
    const row = page.locator('tr[data-policy]:has(button)').first();
    const target = await row.getAttribute('data-policy');
    expect(target).not.toBe(inForce);

    // Keyboard only: focus the row's Switch button, Enter opens the dialog, Escape closes it unchanged.
    await row.getByRole('button').focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`Switch placement to ${target ?? '?'}?`);
    await saveScreenshot(page, 'ui-dashboard-switch-phone');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByTestId('placement-policy').textContent()).toBe(inForce);

    // Switching is an admin action: the dialog asks for the token. A wrong one is refused (nothing moves) and forgotten.
    await row.getByRole('button').click();
    await dialog.getByTestId('admin-token').fill('not-the-admin-token');
    await dialog.getByRole('button', { name: `Switch to ${target ?? '?'}` }).click();
    await page.getByRole('alert').filter({ hasText: 'unauthorized' }).waitFor();
    expect(await page.getByTestId('placement-policy').textContent()).toBe(inForce);

    // Confirming with the server's token asks the coordinator; the placement in force and the feed show the decision.
    await row.getByRole('button').click();
    await dialog.getByTestId('admin-token').fill(ctx.server.adminToken);
    await dialog.getByRole('button', { name: `Switch to ${target ?? '?'}` }).click();
    await page.getByTestId('switch-done').waitFor();
    await expect.poll(() => page.getByTestId('placement-policy').textContent()).toBe(target);
    await page.getByText(`placement by ${target ?? '?'}`).first().waitFor();
    // The one refusal asked for above (the wrong token): Chromium logs its 401; nothing else failed.
    expect(errors).toEqual(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    await page.close();
  });
});
