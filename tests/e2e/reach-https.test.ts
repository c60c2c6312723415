// `bouquet serve` over HTTPS on a LAN address in a namespace: pages get a secure, cross-origin-isolated context and a
// volunteer reaches "serving"; the chat page checks coverage before sending and the dashboard lists the failure.
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedTlsCredentials, type TlsCredentials } from '../../server/index.ts';
import { chromiumArgs, chromiumPath } from '../../tools/browser/chromium.ts';
import { createLanNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import { buildApp, chromiumMissingReason, openVolunteer, serveInNamespace, until, volunteerSnapshot, type ServeProcess } from './swarm-support.ts';

const skipReason = chromiumMissingReason() ?? netnsUnavailableReason();
const address = '10.78.0.1';
const port = 8443;
const origin = `https://${address}:${port}`;

let ns: NetNamespace | undefined;
let app: { dir: string; remove: () => void } | undefined;
let server: (ServeProcess & { log(): string }) | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let tls: TlsCredentials;
let certDir: string;

describe.skipIf(skipReason !== null)(`HTTPS on a LAN address${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    certDir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-https-'));
    // The certificate --tls-self-signed makes (same code), in a folder of this test's own.
    tls = selfSignedTlsCredentials([address], certDir, Date.now());
    writeFileSync(path.join(certDir, 'cert.pem'), tls.cert);
    writeFileSync(path.join(certDir, 'key.pem'), tls.key, { mode: 0o600 });
    app = await buildApp();
    ns = await createLanNamespace(address);
    server = await serveInNamespace(ns, app.dir, port, [
      '--host', address, '--tls-cert', path.join(certDir, 'cert.pem'), '--tls-key', path.join(certDir, 'key.pem'), '--heartbeat-interval-ms', '500',
    ], { url: origin });
    // The browser trusts exactly this certificate's key (as a person does by accepting it once), nothing more.
    const spki = createHash('sha256').update(new X509Certificate(tls.cert).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    browser = await chromium.launch({ executablePath: ns.wrap(chromiumPath), args: chromiumArgs({ extraArgs: [`--ignore-certificate-errors-spki-list=${spki}`] }) });
    context = await browser.newContext();
  }, 240_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await ns?.remove();
    app?.remove();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('prints the certificate\'s SHA-256 fingerprint; pages are a secure, cross-origin-isolated context and a volunteer reaches "serving"', async () => {
    expect(server?.log()).toContain(`certificate SHA-256 fingerprint ${tls.fingerprint256}`);
    const page = await openVolunteer(context, origin, 64 << 20);
    expect(await page.evaluate(() => [location.protocol, isSecureContext, crossOriginIsolated])).toEqual(['https:', true, true]);
    let last = '';
    await until('the volunteer serving over https', async () => {
      const s = await volunteerSnapshot(page);
      last = JSON.stringify(s).slice(0, 600);
      return 'status' in s && s.status === 'serving';
    }, 120_000).catch((e: unknown) => {
      // Once seen under the full suite's load (it passes in ≈ 4 s alone): say where the volunteer was.
      throw new Error(`${e instanceof Error ? e.message : String(e)}; the volunteer's last snapshot: ${last}; server log tail: ${server?.log().slice(-1500) ?? ''}`);
    });
    await page.close();
    await until('the volunteer gone', async () => {
      const probe = await context.newPage();
      try {
        await probe.goto(`${origin}/api/swarm`);
        return ((await probe.evaluate(() => JSON.parse(document.body.innerText) as { volunteers: unknown[] })).volunteers.length) === 0;
      } finally {
        await probe.close();
      }
    }, 30_000);
  }, 180_000);

  // One behaviour a person understands: while the model is not fully served, Send stays disabled and the page says at
  // once which blocks have no volunteer, with a link to volunteer. A request that really fails (coverage lost between the
  // page's last look and Send, here frozen at its last answer as it is for up to 3 s between polls) says the same in the
  // answer, and the server logs it and the dashboard lists it.
  it('the chat page with no volunteer says at once which blocks are missing with a link to volunteer and keeps Send disabled; a request that fails is listed on the dashboard', async () => {
    const chat = await context.newPage();
    await chat.goto(`${origin}/chat.html`);
    await chat.getByTestId('engine-ready').waitFor({ timeout: 90_000 });
    const readyAt = Date.now();
    await chat.getByTestId('volunteer-link').waitFor({ timeout: 10_000 });
    const shownAfterMs = Date.now() - readyAt;
    expect(await chat.getByTestId('volunteer-link').getAttribute('href')).toBe('/volunteer.html');
    const notServed = await chat.getByTestId('not-served').innerText();
    expect(notServed).toContain('blocks 0–4');
    await chat.getByTestId('prompt').fill('Once upon a time');
    expect(await chat.getByTestId('send').isDisabled()).toBe(true);
    console.log(`coverage check: the chat page named the missing blocks ${shownAfterMs} ms after it was ready: ${notServed}`);

    // A volunteer serves every block: Send is enabled.
    const volunteer = await openVolunteer(context, origin, 64 << 20);
    await chat.getByTestId('not-served').waitFor({ state: 'detached', timeout: 120_000 });
    expect(await chat.getByTestId('send').isEnabled()).toBe(true);
    // The page's coverage view goes stale (frozen at this fully served answer) while the volunteer leaves.
    const served = await chat.evaluate(async () => (await fetch('/api/models')).text());
    await chat.route('**/api/models*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: served }));
    await volunteer.close();
    await until('the volunteer gone', async () => (await chat.evaluate(async () => ((await (await fetch('/api/swarm')).json()) as { volunteers: unknown[] }).volunteers.length)) === 0, 30_000);
    await chat.getByTestId('send').click();
    await chat.getByTestId('answer-volunteer-link').waitFor({ timeout: 10_000 });
    expect(await chat.getByTestId('answer').getAttribute('data-state')).toBe('failed');
    expect(await chat.getByTestId('answer-error').innerText()).toContain('blocks 0–4');
    expect(await chat.getByTestId('answer-volunteer-link').getAttribute('href')).toBe('/volunteer.html');

    const dashboard = await context.newPage();
    await dashboard.goto(`${origin}/dashboard.html`);
    const row = dashboard.locator('[data-testid="failures"] tr[data-code="no-route"]');
    await row.first().waitFor({ timeout: 15_000 });
    expect(await row.first().locator('td').nth(1).innerText()).toBe('coverage');
    expect(server?.log()).toMatch(/"stage":"coverage"/);
    await chat.close();
    await dashboard.close();
  }, 240_000);
});
