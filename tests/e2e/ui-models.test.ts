// The pages' model pickers in headless Chromium against a real two-model server: volunteer default, chat refusal, dashboard switch.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BouquetServer } from '../../server/index.ts';
import { buildApp, chromiumMissingReason, stories260K } from './swarm-support.ts';
import { launchChromium, ProtocolVolunteer, saveScreenshot, startServer, watchPageErrors, withoutModelProbes } from './ui-support.ts';

const skipReason = chromiumMissingReason();

// Needs Chromium (the server and the protocol volunteers run in this process, on loopback); without it the suite says why and skips.
describe.skipIf(skipReason !== null)(`model pickers${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  let app: { dir: string; remove: () => void } | undefined;
  let server: BouquetServer | undefined;
  let browser: Browser | undefined;
  const volunteers: ProtocolVolunteer[] = [];

  beforeAll(async () => {
    app = await buildApp();
    // stories260K (llama2.c) is served by one volunteer; stories260K-hf by none.
    server = await startServer(app.dir, { model: [stories260K, `${stories260K}-hf`], coordinator: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5_000 } });
    browser = await launchChromium();
    const v = new ProtocolVolunteer(server.url, 'vol-a', { modelId: 'stories260K' });
    volunteers.push(v);
    await v.serving;
  }, 180_000);

  afterAll(async () => {
    for (const v of volunteers) v.leave();
    await browser?.close();
    await server?.close();
    app?.remove();
  });

  it('volunteer page starts on the model that needs volunteers; chat page refuses a model not fully served; dashboard switches swarms', async () => {
    if (server === undefined || browser === undefined) throw new Error('not started');
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = watchPageErrors(page);

    await page.goto(`${server.url}/volunteer.html`);
    const volunteerPicker = page.getByTestId('model-picker');
    await expect.poll(() => volunteerPicker.inputValue(), { timeout: 30_000 }).toBe('stories260K-hf');
    expect(await page.getByText('needs volunteers most').count()).toBeGreaterThan(0);

    await page.goto(`${server.url}/chat.html`);
    await page.getByTestId('engine-ready').waitFor({ timeout: 90_000 });
    const chatPicker = page.getByTestId('model-picker');
    expect(await chatPicker.inputValue()).toBe('stories260K'); // the first fully served one
    expect(await page.getByTestId('not-served').count()).toBe(0);
    await chatPicker.selectOption('stories260K-hf');
    await page.getByTestId('not-served').waitFor();
    expect(await page.getByTestId('not-served').textContent()).toContain('stories260K-hf');
    await page.getByTestId('engine-ready').waitFor({ timeout: 90_000 });
    await page.getByLabel('Message').fill('Once upon a time');
    expect(await page.getByTestId('send').isDisabled()).toBe(true);
    await page.getByLabel('Message').press('Enter');
    expect(await page.getByTestId('answer').count()).toBe(0);
    await saveScreenshot(page, 'ui-chat-model-not-served');

    await page.goto(`${server.url}/dashboard.html`);
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
    await expect.poll(() => page.getByTestId('volunteer-count').textContent()).toBe('1');
    await page.getByTestId('model-picker').selectOption('stories260K-hf');
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
    await expect.poll(() => page.getByTestId('volunteer-count').textContent()).toBe('0');
    await page.getByTestId('model-picker').selectOption('stories260K');
    await page.locator('tr[data-peer-id="vol-a"]').waitFor();
    // The HF model's weights are probed for a sharded index first (a single file answers 404 there).
    expect(withoutModelProbes(errors).filter((e) => !e.endsWith('/model.safetensors.index.json'))).toEqual([]);
    await page.close();
  }, 240_000);
});
