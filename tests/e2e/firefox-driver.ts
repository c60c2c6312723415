// Runs inside a test's network namespace: launches headless Firefox with puppeteer-core over WebDriver BiDi and
// drives the web app's pages on commands read from stdin (one JSON line each), answering one JSON line each on stdout.
//
// Why a driver process: puppeteer talks to Firefox over a WebSocket on 127.0.0.1:<port>, and inside a namespace
// that is the namespace's own loopback, which the test process (in the host namespace) cannot reach. Chromium
// does not have the problem because playwright drives it over a pipe; Firefox has no pipe transport for BiDi.
// A Node process started with `ip netns exec` shares the namespace's loopback with Firefox, and stdin/stdout
// are plain pipes that cross namespaces, so the test keeps the steps and the assertions and this script only
// does what the test asks. (Bridging the port instead would need a forwarder in both namespaces.)
//
// Started by tests/e2e/firefox-namespace.ts (FirefoxInNamespace); not a test on its own.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { firefoxPrefs, replyMarker, watchPuppeteerErrors, type FirefoxCommand, type FirefoxReply } from './firefox-namespace.ts';

const [firefoxPath = '/usr/bin/firefox-esr', screenshotDir = path.resolve('test-results')] = process.argv.slice(2);

const pages = new Map<string, { page: Page; errors: string[]; context: BrowserContext }>();
let browser: Browser | undefined;


async function poll<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last seen: ${JSON.stringify(last)}${lastError !== '' ? `, last error: ${lastError}` : ''})`);
}

const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => (e.textContent ?? '').trim());

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function newPage(key: string, url: string, freshContext: boolean, width: number, height: number): Promise<Page> {
  if (browser === undefined) throw new Error('Firefox is not running');
  const context = freshContext ? await browser.createBrowserContext() : browser.defaultBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width, height });
  const errors = watchPuppeteerErrors(page);
  pages.set(key, { page, errors, context });
  await page.goto(url);
  return page;
}

function pageOf(key: string): { page: Page; errors: string[]; context: BrowserContext } {
  const p = pages.get(key);
  if (p === undefined) throw new Error(`no page '${key}'`);
  return p;
}

async function handle(cmd: FirefoxCommand): Promise<unknown> {
  switch (cmd.cmd) {
    case 'launch': {
      browser = await puppeteer.launch({ browser: 'firefox', executablePath: firefoxPath, headless: true, extraPrefsFirefox: { ...firefoxPrefs, ...cmd.prefs } });
      return { version: await browser.version() };
    }
    case 'openChat': {
      const page = await newPage(cmd.key, `${cmd.url}/chat.html`, cmd.freshContext ?? false, 1000, 900);
      return { engine: await poll('the chat engine', () => textOf(page, '[data-testid="engine-ready"]'), (t) => t !== '', cmd.timeoutMs ?? 90_000) };
    }
    case 'chat': {
      const { page } = pageOf(cmd.key);
      const before = (await page.$$('[data-testid="answer"]')).length;
      // The settings sit in a <details>: open it as a person would, then type into the labelled fields.
      const open = await page.$eval('details.settings', (d) => d.open);
      if (!open) await page.click('details.settings summary');
      await page.locator('[data-testid="setting-temperature"]').fill(String(cmd.temperature));
      await page.locator('[data-testid="setting-maxNewTokens"]').fill(String(cmd.maxNewTokens));
      await page.locator('[data-testid="prompt"]').fill(cmd.prompt);
      await page.focus('[data-testid="prompt"]');
      await page.keyboard.press('Enter');
      const startedAt = Date.now();
      const state = await poll('the answer to finish', () => page.$$eval('[data-testid="answer"]', (as) => as.map((a) => a.getAttribute('data-state'))),
        (s) => s.length > before && s[s.length - 1] !== 'streaming' && s[s.length - 1] !== 'pending', cmd.timeoutMs ?? 120_000);
      const answer = await page.$$eval('[data-testid="answer"]', (as) => {
        const a = as[as.length - 1];
        if (a === undefined) throw new Error('no answer');
        return {
          text: a.querySelector('.text')?.textContent ?? '',
          hops: [...a.querySelectorAll('[data-testid="answer-route"] [data-peer-id]')].map((h) => ({ peerId: h.getAttribute('data-peer-id') ?? '', text: (h.textContent ?? '').trim() })),
          ttft: (a.querySelector('[data-testid="ttft"]')?.textContent ?? '').trim(),
          perToken: (a.querySelector('[data-testid="per-token"]')?.textContent ?? '').trim(),
          failovers: [...a.querySelectorAll('[data-testid="failover"]')].map((f) => (f.textContent ?? '').trim()),
        };
      });
      const shot = cmd.screenshot !== undefined ? await screenshot(page, cmd.screenshot) : null;
      return { state: state[state.length - 1], wallMs: Date.now() - startedAt, ...answer, screenshot: shot };
    }
    case 'openVolunteer': {
      const page = await newPage(cmd.key, `${cmd.url}/volunteer.html`, cmd.freshContext ?? false, 1100, 900);
      await poll('the Start button', () => page.$eval('[data-testid="start"]', (b) => !(b as HTMLButtonElement).disabled), (ok) => ok, 30_000);
      const startedAt = Date.now();
      await page.click('[data-testid="start"]');
      const status = () => page.$eval('[data-testid="volunteer-status"]', (e) => ({ key: e.getAttribute('data-status'), text: (e.textContent ?? '').trim() }));
      try {
        await poll('the volunteer to serve', status, (s) => s.key === 'serving', cmd.timeoutMs ?? 120_000);
      } catch (e) {
        await screenshot(page, `${cmd.screenshot ?? cmd.key}-failed`).catch(() => undefined);
        throw e;
      }
      const shot = cmd.screenshot !== undefined ? await screenshot(page, cmd.screenshot) : null;
      return { startToServingMs: Date.now() - startedAt, peerId: await textOf(page, '[data-testid="peer-id"]'), span: await textOf(page, '[data-testid="served-span"]'), sessionsServed: Number(await textOf(page, '[data-testid="sessions-served"]')), screenshot: shot };
    }
    case 'volunteerStats': {
      const { page } = pageOf(cmd.key);
      return { status: await page.$eval('[data-testid="volunteer-status"]', (e) => e.getAttribute('data-status')), sessionsServed: Number(await textOf(page, '[data-testid="sessions-served"]')) };
    }
    case 'errors':
      return pageOf(cmd.key).errors;
    case 'closePage': {
      const p = pageOf(cmd.key);
      pages.delete(cmd.key);
      await p.page.close();
      if (p.context !== browser?.defaultBrowserContext()) await p.context.close();
      return null;
    }
    case 'quit':
      await browser?.close();
      browser = undefined;
      return null;
    default: {
      const never: never = cmd;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

const input = createInterface({ input: process.stdin });
for await (const line of input) {
  if (line.trim() === '') continue;
  let reply: FirefoxReply;
  let id = -1;
  try {
    const cmd = JSON.parse(line) as FirefoxCommand & { id: number };
    id = cmd.id;
    reply = { id, ok: true, result: await handle(cmd) };
  } catch (e) {
    reply = { id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  process.stdout.write(`${replyMarker}${JSON.stringify(reply)}\n`);
  if (line.includes('"cmd":"quit"')) break;
}
// stdin closed (the test ended or died): take Firefox down with us.
await browser?.close().catch(() => undefined);
process.exit(0);
