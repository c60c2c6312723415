// The Svelte chat page in headless Firefox answering over real WebRTC inside a network namespace: Chromium
// volunteer tabs serve the blocks (Firefox ↔ Chromium interop), then a Firefox volunteer page serves a Firefox chat.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import { FirefoxInNamespace, firefoxMissingReason } from './firefox-namespace.ts';
import {
  buildApp, chatGenerate, chromiumMissingReason, generateReference, launchInNamespace, openChat, openVolunteer, serveInNamespace, swarmState, until, volunteerSnapshot,
  type ServeProcess,
} from './swarm-support.ts';

const skipReason = firefoxMissingReason() ?? chromiumMissingReason() ?? netnsUnavailableReason();
const port = 8789;
const prompt = 'Once upon a time';
const maxNewTokens = 30;

let ns: NetNamespace | undefined;
let app: { dir: string; remove: () => void } | undefined;
let server: ServeProcess | undefined;
let chromium: { browser: Browser; context: BrowserContext } | undefined;
let firefox: FirefoxInNamespace | undefined;
const chromiumVolunteers: Page[] = [];
let reference: { text: string; ids: number[] };

/** Each volunteer and whether it serves its assignment (none while a block is uncovered), read by a Chromium page in the namespace. */
async function volunteersServing(page: Page): Promise<{ peerId: string; serving: boolean }[]> {
  const s = await swarmState(page);
  if (s.placement.uncoveredBlocks.length > 0) return [];
  return s.volunteers.map((v) => ({ peerId: v.peerId, serving: v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan) }));
}

// Needs Firefox ESR, Chromium and root for `ip netns`; without them the suite says why and skips (in CI it fails).
describe.skipIf(skipReason !== null)(`chat page in Firefox on a live WebRTC swarm${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    reference = generateReference(prompt, maxNewTokens);
    app = await buildApp();
    ns = await createNetNamespace();
    // The default policy (bouquet): each volunteer page must reach "serving" with blocks (spare spans for those its chains do not need).
    server = await serveInNamespace(ns, app.dir, port, ['--max-session-tokens', '128', '--heartbeat-interval-ms', '500', '--heartbeat-timeout-ms', '6000']);
    chromium = await launchInNamespace(ns);
    firefox = FirefoxInNamespace.start(ns);
    await firefox.call({ cmd: 'launch' });
  }, 180_000);

  afterAll(async () => {
    await firefox?.close().catch(() => undefined);
    await chromium?.browser.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await ns?.remove();
    app?.remove();
  });

  it('Firefox chat page answers greedily through Chromium volunteer tabs over WebRTC, exactly as `bouquet generate`, and shows the route', async () => {
    const url = server?.url ?? '';
    if (chromium === undefined || firefox === undefined) throw new Error('setup failed');
    const volunteer = await openVolunteer(chromium.context, url, 64 << 20);
    chromiumVolunteers.push(volunteer);
    await until('a Chromium volunteer serving every block', async () => {
      const v = await volunteersServing(volunteer);
      return v.length === 1 && v.every((x) => x.serving);
    }, 120_000).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; tab: ${JSON.stringify(await volunteerSnapshot(volunteer))}`);
    });
    const snapshot = await volunteerSnapshot(volunteer);
    if ('error' in snapshot) throw new Error(snapshot.error);

    await firefox.call({ cmd: 'openChat', key: 'chat', url });
    const answer = await firefox.call({ cmd: 'chat', key: 'chat', prompt, temperature: 0, maxNewTokens, screenshot: 'ui-firefox-chat-answer' });
    expect(answer.state).toBe('done');
    expect(answer.text).toBe(reference.text);
    // The route is the Chromium tab: every block, one hop.
    expect(answer.hops.map((h) => h.peerId)).toEqual([snapshot.peerId]);
    expect(answer.hops[0]?.text).toMatch(/blocks 0–4/);
    expect(answer.ttft).toMatch(/\d.*(ms|s)$/);
    expect(answer.perToken).toMatch(/\d.*ms$/);
    expect(answer.failovers).toEqual([]);
    console.log(`Firefox chat via Chromium volunteer, greedy ${maxNewTokens} tokens: first token ${answer.ttft}, median per token ${answer.perToken}, answer in ${answer.wallMs} ms`);
    const errors = await firefox.call({ cmd: 'errors', key: 'chat' });
    expect(errors.filter((e) => !/404|tokenizer/i.test(e))).toEqual([]);
  }, 240_000);

  it('Firefox on both ends: a Firefox volunteer page reaches "serving" and serves the Firefox chat', async () => {
    const url = server?.url ?? '';
    if (chromium === undefined || firefox === undefined) throw new Error('setup failed');
    const served = await firefox.call({ cmd: 'openVolunteer', key: 'volunteer', url, screenshot: 'ui-firefox-volunteer-serving-swarm' });
    expect(served.peerId).not.toBe('');
    // The Chromium tabs leave, so the Firefox page is the only one left to serve every block.
    for (const v of chromiumVolunteers.splice(0)) await v.close();
    const probe = await chromium.context.newPage();
    await probe.goto(`${url}/dashboard.html`);
    await until('the Firefox volunteer serving every block alone', async () => {
      const v = await volunteersServing(probe);
      return v.length === 1 && v[0]?.peerId === served.peerId && v[0].serving;
    }, 90_000);
    const answer = await firefox.call({ cmd: 'chat', key: 'chat', prompt, temperature: 0, maxNewTokens, screenshot: 'ui-firefox-chat-answer-firefox-volunteer' });
    expect(answer.state).toBe('done');
    expect(answer.text).toBe(reference.text);
    expect(answer.hops.map((h) => h.peerId)).toEqual([served.peerId]);
    console.log(`Firefox chat via Firefox volunteer: first token ${answer.ttft}, median per token ${answer.perToken}, volunteer Start → serving ${served.startToServingMs} ms`);
    const stats = await firefox.call({ cmd: 'volunteerStats', key: 'volunteer' });
    expect(stats).toEqual({ status: 'serving', sessionsServed: 1 });

    // The other direction of the interop: a Chromium chat tab opens the data channel to the Firefox volunteer.
    const chromiumChat = await openChat(chromium.context, url);
    const fromChromium = await chatGenerate(chromiumChat, { prompt, maxNewTokens });
    expect(fromChromium.text).toBe(reference.text);
    expect(fromChromium.route.map((h) => h.peerId)).toEqual([served.peerId]);
    expect((await firefox.call({ cmd: 'volunteerStats', key: 'volunteer' })).sessionsServed).toBe(2);
    const errors = [...await firefox.call({ cmd: 'errors', key: 'volunteer' }), ...await firefox.call({ cmd: 'errors', key: 'chat' })];
    expect(errors.filter((e) => !/404|tokenizer/i.test(e))).toEqual([]);
  }, 240_000);
});
