// A swarm across two NATs: a volunteer tab in one home, a chat tab in another, the server and a real coturn
// on the "wan" between them (namespaces the test makes). With direct paths dropped only the relay carries
// the text; with them open (STUN only) no relay is used; wrong TURN logins fail with a reason the page, the
// server log and the dashboard's failure list all show, and so does a TURN address where nothing listens.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureRecord } from '../../core/api/index.ts';
import { chromiumArgs, chromiumPath } from '../../tools/browser/chromium.ts';
import { coturnMissingReason, startCoturn, type Coturn } from '../support/coturn.ts';
import { createNatTopology, natAddresses, natTopologyUnavailableReason, type NatTopology, type NetNamespace } from '../support/netns.ts';
import {
  buildApp, chatGenerate, chromiumMissingReason, generateReference, openChat, openVolunteer, serveInNamespace, servingAll, swarmState, until, volunteerSnapshot,
  RouteVictim,
  type ServeProcess,
} from './swarm-support.ts';

const skipReason = chromiumMissingReason() ?? natTopologyUnavailableReason() ?? coturnMissingReason();
const port = 8787;
const origin = `http://${natAddresses.wan1}:${port}`;
const secret = 'turn-shared-secret-of-this-test';
const prompt = 'Once upon a time';
const maxNewTokens = 40;
const maxSessionTokens = 128;

let topo: NatTopology | undefined;
let app: { dir: string; remove: () => void } | undefined;
let turn: Coturn | undefined;
let server: (ServeProcess & { log(): string }) | undefined;
const browsers: Browser[] = [];
let home1: BrowserContext;
let home2: BrowserContext;
/** `bouquet generate`'s greedy answer of failoverTokens; shorter greedy answers are its prefix. */
let reference: { text: string; ids: number[] };
const failoverTokens = maxSessionTokens - 32;
/** Volunteer tabs still open from the case before. */
let leftOpen: Page[] = [];
const t0 = Date.now();
const at = (what: string): void => console.log(`[reach-turn +${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

/** Chromium in a home namespace. The origin is plain http on a LAN address, so it is marked secure (the HTTPS test shows the real thing). */
async function browserIn(ns: NetNamespace): Promise<BrowserContext> {
  const browser = await chromium.launch({
    executablePath: ns.wrap(chromiumPath),
    args: chromiumArgs({ extraArgs: [`--unsafely-treat-insecure-origin-as-secure=${origin}`, '--disable-background-timer-throttling', '--disable-renderer-backgrounding'] }),
  });
  browsers.push(browser);
  return browser.newContext();
}

async function serve(extra: string[]): Promise<void> {
  await server?.stop();
  server = await serveInNamespace((topo as NatTopology).wan, (app as { dir: string }).dir, port, [
    '--host', '0.0.0.0', '--max-session-tokens', String(maxSessionTokens), '--heartbeat-interval-ms', '500', '--heartbeat-timeout-ms', '6000', ...extra,
  ], { url: origin });
}

/** Opens `n` volunteer tabs in home 1, each with room for the whole model, and waits until they serve every block. */
async function volunteersServing(n: number, probe: Page): Promise<Page[]> {
  const info = (await swarmState(probe)).model;
  const memory = info.numBlocks * info.blockBytes + 12 * info.cacheBytesPerBlock;
  const pages: Page[] = [];
  for (let i = 0; i < n; i++) pages.push(await openVolunteer(home1, origin, memory));
  await until(`${n} volunteers serving`, async () => servingAll(await swarmState(probe), n), 120_000).catch(async (e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; tabs: ${JSON.stringify(await Promise.all(pages.map(volunteerSnapshot)))}`);
  });
  return pages;
}

/** Runs a chat that must fail to connect; returns the page's error, the first failure the server listed, and how long it took (ms). */
async function failedChat(chat: Page): Promise<{ error: string; failure: FailureRecord | undefined; ms: number }> {
  const started = Date.now();
  const error = await chatGenerate(chat, { prompt, maxNewTokens }).then(() => null, (e: unknown) => (e instanceof Error ? e.message : String(e)));
  expect(error).not.toBeNull();
  await until('the failure reported', async () => (await failures(chat)).length > 0, 10_000);
  const [failure] = await failures(chat);
  return { error: error ?? '', failure, ms: Date.now() - started };
}

function candidatePairs(page: Page): Promise<{ peerId: string; localType: string; remoteType: string; rttMs?: number }[]> {
  return page.evaluate(() => window.bouquetChat?.candidatePairs() ?? Promise.resolve([]));
}

async function medianPingMs(page: Page, peerId: string): Promise<number> {
  const m = await page.evaluate(([p]) => window.bouquetChat?.measureHop(p, 0, 21, 0), [peerId] as const);
  const s = [...(m?.pingMs ?? [])].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function failures(page: Page): Promise<FailureRecord[]> {
  return page.evaluate(async () => ((await (await fetch('/api/failures')).json()) as { failures: FailureRecord[] }).failures);
}

async function closeAll(pages: Page[]): Promise<void> {
  for (const p of pages) await p.close().catch(() => undefined);
}

describe.skipIf(skipReason !== null)(`a swarm across two NATs with a TURN relay${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  let relayPingMs = NaN;

  beforeAll(async () => {
    reference = generateReference(prompt, failoverTokens);
    at('reference');
    app = await buildApp();
    at('app built');
    topo = await createNatTopology();
    turn = await startCoturn(topo.wan, { listenIp: natAddresses.wan1, secret });
    home1 = await browserIn(topo.home1);
    home2 = await browserIn(topo.home2);
    at('topology, coturn, browsers');
  }, 240_000);

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await turn?.stop().catch(() => undefined);
    await topo?.remove();
    app?.remove();
  });

  it('with direct paths between the NATs dropped, the relay carries the greedy text of `bouquet generate`, and failover heals', async () => {
    const t = topo as NatTopology;
    t.blockDirect(true);
    await serve(['--ice-servers', `${(turn as Coturn).stunUrl},${(turn as Coturn).url}`, '--turn-secret', secret]);
    const chat = await openChat(home2, origin);
    const volunteers = await volunteersServing(2, chat);
    at('relay case: two volunteers serving');
    try {
      const res = await chatGenerate(chat, { prompt, maxNewTokens });
      expect(res.ids.length).toBe(maxNewTokens);
      expect(res.ids).toEqual(reference.ids.slice(0, maxNewTokens));
      expect(reference.text.startsWith(res.text)).toBe(true);
      const pairs = await candidatePairs(chat);
      expect(pairs.length).toBeGreaterThan(0);
      for (const p of pairs) expect([p.localType, p.remoteType]).toContain('relay');
      const hop = res.route[0]?.peerId ?? '';
      relayPingMs = await medianPingMs(chat, hop);
      expect(turn?.log()).toMatch(/ALLOCATE processed, success/);

      // Failover through the relay: the route's volunteer tab closes at token 8; the other one takes over.
      const watch = await RouteVictim.watch(chat, volunteers);
      let closing: Promise<void> | undefined;
      await chat.exposeFunction('bouquetOnToken', (_piece: string, index: number) => {
        watch.lookUp();
        if (index >= 8 && watch.victim !== undefined && closing === undefined) closing = watch.victim.page.close();
      });
      const healed = await chatGenerate(chat, { prompt, maxNewTokens: failoverTokens });
      await watch.settled();
      await closing;
      const victim = watch.victim?.peerId;
      expect(victim).toBeDefined();
      expect(healed.ids).toEqual(reference.ids);
      expect(healed.failovers[0]?.failedPeer).toBe(victim);
      expect(healed.route.some((h) => h.peerId === victim)).toBe(false);
      at('relay case: failover healed');
      leftOpen = volunteers.filter((p) => !p.isClosed());
    } finally {
      await closeAll([chat]);
    }
  }, 300_000);

  it('with direct paths open and STUN only, the tabs meet directly: no relay in use', async () => {
    const t = topo as NatTopology;
    t.blockDirect(false);
    await serve(['--ice-servers', (turn as Coturn).stunUrl]);
    const chat = await openChat(home2, origin);
    // The volunteer left from the relay case re-registers with the new server (its span loaded); a chat tab
    // that got STUN only meets it on the direct path now open.
    const volunteers = leftOpen.length > 0 ? leftOpen : await volunteersServing(1, chat);
    await until('the volunteer re-registered', async () => (await swarmState(chat)).volunteers.some((v) => v.state === 'serving'), 60_000);
    at('direct case: volunteer serving');
    try {
      const res = await chatGenerate(chat, { prompt, maxNewTokens });
      expect(res.ids).toEqual(reference.ids.slice(0, maxNewTokens));
      const pairs = await candidatePairs(chat);
      expect(pairs.length).toBeGreaterThan(0);
      for (const p of pairs) expect([p.localType, p.remoteType]).not.toContain('relay');
      const directPingMs = await medianPingMs(chat, res.route[0]?.peerId ?? '');
      console.log(`relay vs direct, one hop home2 → home1: median ping ${relayPingMs.toFixed(2)} ms through TURN, ${directPingMs.toFixed(2)} ms direct `
        + `(${pairs.map((p) => `${p.localType}/${p.remoteType}`).join(', ')}): the relay adds ${(relayPingMs - directPingMs).toFixed(2)} ms per hop round trip`);
      at('direct case done');
    } finally {
      await closeAll([chat, ...volunteers]);
    }
  }, 240_000);

  it('a wrong TURN secret fails the request with the reason on the page, in the server log and in the failure list; the server serves on', async () => {
    const t = topo as NatTopology;
    t.blockDirect(true);
    await serve(['--ice-servers', (turn as Coturn).url, '--turn-secret', 'not-the-secret-coturn-has']);
    at('wrong-secret case: server up');
    const chat = await openChat(home2, origin);
    const volunteers = await volunteersServing(1, chat);
    try {
      const { error, failure: f, ms } = await failedChat(chat);
      expect(f?.reason).toBe('turn-refused');
      expect(f?.stage).toBe('connect');
      expect(server?.log()).toMatch(/"reason":"turn-refused"/);
      console.log(`wrong TURN secret: failed after ${ms} ms; the page said: ${error}`);
      expect((await swarmState(chat)).volunteers.length).toBe(1);
      at('wrong-secret case done');
    } finally {
      await closeAll([chat, ...volunteers]);
    }
  }, 240_000);
  it('an unreachable TURN server fails the request with turn-unreachable on the page, in the server log and in the failure list; a chat that needs no relay is served', async () => {
    const t = topo as NatTopology;
    t.blockDirect(true);
    // A TURN address inside this test's wan where nothing listens (coturn is on 3478): UDP gets no answer, TCP a reset.
    const silent = `turn:${natAddresses.wan1}:3479`;
    await serve(['--ice-servers', `${silent},${silent}?transport=tcp`, '--turn-secret', secret]);
    at('unreachable-TURN case: server up');
    const chat = await openChat(home2, origin);
    const volunteers = await volunteersServing(1, chat);
    // In the volunteer's own home a chat meets it on host candidates: no relay needed, so nothing of this case may touch it.
    const neighbour = await openChat(home1, origin);
    try {
      const { error, failure: f, ms } = await failedChat(chat);
      expect(f?.reason, `${JSON.stringify(f)}; the page said: ${error}`).toBe('turn-unreachable');
      expect(f?.stage).toBe('connect');
      expect(f?.clientId).toBe(await chat.evaluate(() => window.bouquetChat?.peerId ?? ''));
      expect(server?.log()).toMatch(/"reason":"turn-unreachable"/);
      console.log(`unreachable TURN: failed after ${ms} ms; the page said: ${error}`);
      // Undisturbed: the volunteer still serves (same registration), and the neighbour's chat gets the greedy text.
      const state = await swarmState(neighbour);
      expect(state.volunteers.length).toBe(1);
      expect(state.volunteers[0]?.state).toBe('serving');
      const res = await chatGenerate(neighbour, { prompt, maxNewTokens });
      expect(res.ids).toEqual(reference.ids.slice(0, maxNewTokens));
      at('unreachable-TURN case done');
    } finally {
      await closeAll([chat, neighbour, ...volunteers]);
    }
  }, 240_000);
});
