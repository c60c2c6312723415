// Support for the web app's browser tests: a real server in this process, Chromium, screenshots, page errors, protocol volunteers.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import type { AssignmentMessage, CoordinatorToVolunteerMessage, VolunteerLoad } from '../../core/api/index.ts';
import { protocolVersion } from '../../core/protocol/index.ts';
import { createServer, type BouquetServer, type ServerOptions } from '../../server/server.ts';
import { launchChromium as launchSupportChromium } from '../../tools/browser/chromium.ts';
import { buildApp, repoRoot, stories260K } from './swarm-support.ts';
import { NodeIdentity } from '../support/node-identity.ts';

/** Starts the real server on a free loopback port with the stories260K model and the given web app. */
export function startServer(webDir: string, options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  // Protocol-level volunteers below pick their peer ids by hand (each still proves its key).
  return createServer({ port: 0, host: '127.0.0.1', model: stories260K, webDir, logger: 'silent', ...options, coordinator: { keyBoundPeerIds: false, ...options.coordinator } });
}

/** The built web app served on loopback by a real server in this process, and a browser; ready after the suite's beforeAll. */
export interface LoopbackApp<B> {
  readonly server: BouquetServer;
  readonly browser: B;
  /** Protocol-level stand-in volunteers the suite adds; they leave in afterAll. */
  readonly volunteers: ProtocolVolunteer[];
}

/**
 * Registers the suite's beforeAll/afterAll: builds the app, starts the server (heartbeats every
 * 500 ms, 5 s timeout) and launches the browser; afterwards the volunteers leave and all is closed.
 */
export function useLoopbackApp<B extends { close(): Promise<void> }>(launch: () => Promise<B>): LoopbackApp<B> {
  const state: { app?: { dir: string; remove: () => void }; server?: BouquetServer; browser?: B } = {};
  const volunteers: ProtocolVolunteer[] = [];
  beforeAll(async () => {
    state.app = await buildApp();
    state.server = await startServer(state.app.dir, { coordinator: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5_000 } });
    state.browser = await launch();
  }, 180_000);
  afterAll(async () => {
    for (const v of volunteers) v.leave();
    await state.browser?.close();
    await state.server?.close();
    state.app?.remove();
  });
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not started (use it inside tests, after beforeAll)`);
    return v;
  };
  return {
    get server() {
      return ready(state.server, 'the server');
    },
    get browser() {
      return ready(state.browser, 'the browser');
    },
    volunteers,
  };
}

/** Headless Chromium (tools/browser/chromium.ts) without background throttling: the pages stay live. */
export function launchChromium(): Promise<Browser> {
  return launchSupportChromium({ extraArgs: ['--disable-background-timer-throttling', '--disable-renderer-backgrounding'] });
}

/** Saves a full-page screenshot under test-results/ (kept for people to look at). */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const dir = path.join(repoRoot, 'test-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Collects page errors, console errors and failed requests, so a test can fail on them with the
 * page's own words. A 404 becomes `404 <path>` (the console line about it carries no URL), so a
 * test can allow the expected ones: the tokenizer probes `tokenizer.json` before `tok512.bin`.
 */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of 404')) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() === 404) errors.push(`404 ${new URL(r.url()).pathname}`);
  });
  return errors;
}

/** Drops the 404s of model-file probes (a missing tokenizer.json is how a llama2.c model is told apart). */
export function withoutModelProbes(errors: string[]): string[] {
  return errors.filter((e) => !/^404 \/models\/[^/]+\/(tokenizer\.json|tokenizer_config\.json|tokenizer\.bin|config\.json)$/.test(e));
}

/**
 * A volunteer that speaks the coordinator's volunteer protocol (register, ready, heartbeats) over
 * the real WebSocket, without loading or serving blocks: the dashboard test only needs the swarm
 * registry to see volunteers come, load, serve and go. Named for what it is: a protocol-level
 * stand-in, not a volunteer tab.
 */
export class ProtocolVolunteer {
  readonly #ws: WebSocket;
  #timer: ReturnType<typeof setInterval> | null = null;
  #assignment: AssignmentMessage | null = null;
  /** Resolves on the first assignment with a span (after `ready` was sent). */
  /** Resolves once placed: ready with its span, or told to stay idle (span null). */
  readonly serving: Promise<AssignmentMessage>;

  constructor(
    serverUrl: string,
    readonly peerId: string,
    options: { decodeMsPerBlock?: number; memoryBytes?: number; modelId?: string; readyAfterMs?: number } = {},
  ) {
    this.#ws = new WebSocket(`${serverUrl.replace(/^http/, 'ws')}/api/volunteer`);
    let resolveServing: (a: AssignmentMessage) => void = () => undefined;
    this.serving = new Promise((resolve) => (resolveServing = resolve));
    const identity = NodeIdentity.create();
    const register = (nonce: string): void => {
      this.#ws.send(
        JSON.stringify({
          type: 'register',
          peerId,
          publicKey: identity.publicKey,
          signature: identity.signChallenge(nonce, peerId),
          memoryBytes: options.memoryBytes ?? 64 << 20,
          decodeMsPerBlock: options.decodeMsPerBlock ?? 2,
          prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 0.5 },
          backend: 'wasm',
          modelId: options.modelId ?? 'stories260K',
          protocolVersion,
        }),
      );
    };
    this.#ws.on('message', (data: WebSocket.RawData) => {
      const m = JSON.parse(Buffer.from(data as Buffer).toString('utf8')) as CoordinatorToVolunteerMessage;
      if (m.type === 'challenge') {
        register(m.nonce);
      } else if (m.type === 'registered') {
        this.#timer = setInterval(() => this.#heartbeat(), m.heartbeatIntervalMs);
      } else if (m.type === 'assignment') {
        this.#assignment = m;
        const span = m.span;
        // Told to stay idle (the policy needs no more volunteers): placed, nothing to load or announce.
        if (span === null) {
          resolveServing(m);
          return;
        }
        setTimeout(() => {
          this.#ws.send(JSON.stringify({ type: 'ready', assignmentId: m.assignmentId, span }));
          resolveServing(m);
        }, options.readyAfterMs ?? 300);
      }
    });
  }

  #heartbeat(): void {
    const a = this.#assignment;
    const load: VolunteerLoad = { activeSessions: 0, freeCacheSlots: a?.cacheSlots ?? 0, state: a?.span ? 'serving' : 'loading' };
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ type: 'heartbeat', load }));
  }

  /** Leaves cleanly (`leave`, then closes), as a closing tab does. */
  leave(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ type: 'leave' }));
    this.#ws.close();
  }
}
