// Network changes in the live browser swarm (issue 14 item 6): every signaling/coordinator socket is cut (ss -K) and the
// volunteers reconnect and re-register with their spans; a chat mid-answer whose route loses a volunteer at the same time fails over.
import { spawnSync } from 'node:child_process';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import {
  buildApp, chatGenerate, chromiumMissingReason, generateReference, launchInNamespace, openChat, openVolunteer,
  serveInNamespace, swarmState, until, volunteerSnapshot, RouteVictim, type ServeProcess,
} from './swarm-support.ts';

const skipReason = chromiumMissingReason() ?? netnsUnavailableReason();
const port = 8788;
const prompt = 'Once upon a time';
const maxSessionTokens = 128;

let ns: NetNamespace | undefined;
let app: { dir: string; remove: () => void } | undefined;
let server: ServeProcess | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
const volunteers: Page[] = [];
let chat: Page;
let onToken: (index: number) => void = () => undefined;

/** Aborts every TCP connection to the server's port inside the namespace, both ends (a dropped network, as the tabs see it). */
function cutServerSockets(namespace: string): number {
  const r = spawnSync('ip', ['netns', 'exec', namespace, 'ss', '-K', '-t', '-n', 'state', 'established', 'sport', '=', `:${port}`], { encoding: 'utf8' });
  // ss prints a header, then one line per socket it killed.
  return r.stdout.split('\n').filter((l) => l.includes(`:${port}`)).length;
}

async function allServing(n: number): Promise<boolean> {
  const s = await swarmState(chat);
  return s.volunteers.length === n && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan)) && s.placement.uncoveredBlocks.length === 0;
}

describe.skipIf(skipReason !== null)(`network changes${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    app = await buildApp();
    ns = await createNetNamespace();
    // The default policy (bouquet): its spare spans give every volunteer blocks, so a route's volunteer has a second holder to fail over to.
    server = await serveInNamespace(ns, app.dir, port, ['--max-session-tokens', String(maxSessionTokens), '--heartbeat-interval-ms', '500', '--heartbeat-timeout-ms', '6000']);
    ({ browser, context } = await launchInNamespace(ns));
    chat = await openChat(context, server.url);
    await chat.exposeFunction('bouquetOnToken', (_piece: string, index: number) => onToken(index));
    const info = (await swarmState(chat)).model;
    // Three of the five blocks each: every block is held by at least one of three volunteers, most by two.
    const memory = 3 * info.blockBytes + 12 * info.cacheBytesPerBlock;
    for (let i = 0; i < 3; i++) volunteers.push(await openVolunteer(context, server.url, memory));
    await until('three volunteers serving every block', () => allServing(3), 240_000);
  }, 360_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await ns?.remove();
    app?.remove();
  });

  // The volunteers come back one by one (jittered reconnects; far apart on a loaded machine): the coordinator's
  // reconnect grace keeps placement from moving the first ones back onto the blocks of those not back yet.
  it('volunteers whose coordinator and signaling sockets drop reconnect and re-register with the same spans, without reloading', async () => {
    const before = await swarmState(chat);
    const spans = Object.fromEntries(before.volunteers.map((v) => [v.peerId, JSON.stringify(v.span)]));
    const joined = Object.fromEntries(before.volunteers.map((v) => [v.peerId, v.joinedAtMs]));
    expect(cutServerSockets((ns as NetNamespace).name)).toBeGreaterThanOrEqual(3);
    // Re-registered: each volunteer joined again (a new registration) and serves the span it had.
    let last = '';
    await until('every volunteer registered again with its span', async () => {
      const s = await swarmState(chat).catch(() => null);
      last = JSON.stringify(s?.volunteers.map((v) => [v.peerId.slice(0, 6), v.state, v.span, v.joinedAtMs, joined[v.peerId], spans[v.peerId]]));
      return s !== null && s.volunteers.length === 3 && s.volunteers.every((v) => (joined[v.peerId] ?? Infinity) < v.joinedAtMs && spans[v.peerId] === JSON.stringify(v.span) && v.state === 'serving');
    }, 60_000).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; volunteers: ${last}`);
    });
    const snaps = await Promise.all(volunteers.map(volunteerSnapshot));
    for (const s of snaps) {
      if ('error' in s) throw new Error(s.error);
      expect(s.status).toBe('serving');
      expect(s.coordinatorConnected).toBe(true);
    }
    // And the swarm still answers exactly.
    const reference = generateReference(prompt, 24);
    const res = await chatGenerate(chat, { prompt, maxNewTokens: 24 });
    expect(res.ids).toEqual(reference.ids);
  }, 180_000);

  it('a chat mid-answer keeps going through failover when the sockets drop and a volunteer of its route leaves', async () => {
    const tokens = maxSessionTokens - 32;
    const reference = generateReference(prompt, tokens);
    // The victim is the route's last hop, looked up from the first token on (as in swarm.test.ts's failover case).
    const watch = await RouteVictim.watch(chat, volunteers);
    let closing: Promise<void> | undefined;
    onToken = (i) => {
      watch.lookUp();
      const victim = watch.victim;
      if (i < 8 || victim === undefined || closing !== undefined) return;
      // The network changes under everyone (every server socket cut) and takes the victim's tab with it.
      cutServerSockets((ns as NetNamespace).name);
      closing = victim.page.close();
    };
    const res = await chatGenerate(chat, { prompt, maxNewTokens: tokens });
    await watch.settled();
    await closing;
    onToken = () => undefined;
    expect(watch.victim).toBeDefined();
    expect(res.ids).toEqual(reference.ids);
    expect(res.failovers.length).toBeGreaterThanOrEqual(1);
    expect(res.failovers[0]?.failedPeer).toBe(watch.victim?.peerId);
  }, 240_000);
});
