// Test support: headless Firefox inside a test's network namespace, driven through tests/e2e/firefox-driver.ts
// (a Node process in the namespace) over stdin/stdout, with the prefs Firefox needs for WebRTC on loopback.
//
//   const firefox = await FirefoxInNamespace.start(ns);          // spawns the driver with `ip netns exec`
//   await firefox.call({ cmd: 'launch' });
//   await firefox.call({ cmd: 'openChat', key: 'chat', url });
//   const answer = await firefox.call({ cmd: 'chat', key: 'chat', prompt, temperature: 0, maxNewTokens: 30 });
//   await firefox.close();                                       // ns.remove() also ends it
//
// What Firefox (ESR 153.7, headless, Debian) needs for WebRTC in a namespace with only `lo` up — found by trying
// two RTCPeerConnections in one page in such a namespace, then the chat against a Chromium volunteer:
// - No prefs: no ICE candidate at all, so PeerJS reports "Negotiation of connection to … failed".
// - `media.peerconnection.ice.loopback: true` alone: still none. Firefox gathers only the default-route
//   address(es) unless the page "is capturing or has a camera/microphone permission"
//   (PeerConnectionImpl: default_address_only |= !IsActivelyCapturingOrHasAPermission); a loopback-only
//   namespace has no default route, so nothing is left. Neither `…ice.default_address_only: false`,
//   `…ice.obfuscate_host_addresses: false`, `…ice.no_host: false`, `…ice.force_interface: "lo"` nor
//   `media.navigator.permission.disabled: true` changes that (the last only skips getUserMedia's prompt).
// - A media permission alone (`permissions.default.microphone: 1`): still none (loopback is filtered).
// - Both, `ice.loopback` and a default-allowed microphone or camera permission: host candidates 127.0.0.1 and
//   ::1 (plain addresses, not mDNS `.local` names: with the permission Firefox does not obfuscate), and the
//   data channel opens. The same two things Chromium needs (--allow-loopback-in-peer-connection and the
//   camera/microphone grant, see docs/platform-notes). The page never calls getUserMedia.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'puppeteer-core';
import { failInCi, type NetNamespace } from '../support/netns.ts';
import { repoRoot } from './swarm-support.ts';

/** Where Debian's Firefox ESR lives (FIREFOX_PATH overrides; CI installs firefox-esr). */
export const firefoxPath = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/** Why the Firefox suites cannot run here, or null (in CI a missing Firefox fails instead: failInCi). */
export function firefoxMissingReason(): string | null {
  return failInCi(existsSync(firefoxPath) ? null : `Firefox not found at ${firefoxPath} (install it: apt-get install firefox-esr)`);
}

/** Collects a puppeteer page's uncaught errors and console errors in the page's own words. */
export function watchPuppeteerErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Prefs for WebRTC between tabs on a loopback-only network (see the findings at the top of this file). */
export const firefoxPrefs: Record<string, unknown> = {
  'media.peerconnection.ice.loopback': true,
  // 1 = allow for every site: the profile is the test's own, thrown away after.
  'permissions.default.microphone': 1,
  'permissions.default.camera': 1,
};

/** An answer on the chat page as the driver read it from the DOM. */
export interface ChatAnswer {
  /** The answer's data-state when it stopped streaming ('done', 'stopped', 'error'). */
  state: string | null;
  wallMs: number;
  text: string;
  /** The route under the answer: one entry per `[data-peer-id]` chip. */
  hops: { peerId: string; text: string }[];
  ttft: string;
  perToken: string;
  failovers: string[];
  screenshot: string | null;
}

/** A Svelte volunteer page that reached "serving". */
export interface VolunteerServing {
  startToServingMs: number;
  peerId: string;
  span: string;
  sessionsServed: number;
  screenshot: string | null;
}

/** The driver's commands and what each answers (the request→response map of the stdin/stdout protocol). */
export interface FirefoxCalls {
  launch: { req: { cmd: 'launch'; prefs?: Record<string, unknown> }; res: { version: string } };
  openChat: { req: { cmd: 'openChat'; key: string; url: string; freshContext?: boolean; timeoutMs?: number }; res: { engine: string } };
  chat: { req: { cmd: 'chat'; key: string; prompt: string; temperature: number; maxNewTokens: number; screenshot?: string; timeoutMs?: number }; res: ChatAnswer };
  openVolunteer: { req: { cmd: 'openVolunteer'; key: string; url: string; freshContext?: boolean; screenshot?: string; timeoutMs?: number }; res: VolunteerServing };
  volunteerStats: { req: { cmd: 'volunteerStats'; key: string }; res: { status: string | null; sessionsServed: number } };
  errors: { req: { cmd: 'errors'; key: string }; res: string[] };
  closePage: { req: { cmd: 'closePage'; key: string }; res: null };
  quit: { req: { cmd: 'quit' }; res: null };
}

/** One command to the driver. */
export type FirefoxCommand = FirefoxCalls[keyof FirefoxCalls]['req'];

/** One reply from the driver, correlated by id. */
export type FirefoxReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Prefix of the driver's reply lines on stdout (anything else there is noise from libraries). */
export const replyMarker = '@@firefox-driver ';

/** Headless Firefox in a namespace, behind the driver process. */
export class FirefoxInNamespace {
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #stderr = '';
  #exited: string | null = null;

  private constructor(private readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.on('data', (b: Buffer) => {
      buffered += b.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith(replyMarker)) this.#receive(JSON.parse(line.slice(replyMarker.length)) as FirefoxReply);
      }
    });
    child.stderr?.on('data', (b: Buffer) => {
      this.#stderr = (this.#stderr + b.toString()).slice(-4000);
    });
    child.once('exit', (code, signal) => {
      this.#exited = `the Firefox driver exited (${signal ?? `code ${String(code)}`})${this.#stderr !== '' ? `: ${this.#stderr}` : ''}`;
      for (const p of this.#pending.values()) p.reject(new Error(this.#exited));
      this.#pending.clear();
    });
  }

  /** Starts the driver inside `ns` (Firefox starts on the 'launch' command). */
  static start(ns: NetNamespace, screenshotDir = path.join(repoRoot, 'test-results')): FirefoxInNamespace {
    const driver = path.join(repoRoot, 'tests', 'e2e', 'firefox-driver.ts');
    const child = ns.spawn(process.execPath, ['--import', 'tsx', driver, firefoxPath, screenshotDir], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    return new FirefoxInNamespace(child);
  }

  #receive(reply: FirefoxReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`Firefox: ${reply.error}`));
  }

  /** Sends one command and waits for its reply (a failed step rejects with the driver's message). */
  call<K extends keyof FirefoxCalls>(req: FirefoxCalls[K]['req'] & { cmd: K }): Promise<FirefoxCalls[K]['res']> {
    if (this.#exited !== null) return Promise.reject(new Error(this.#exited));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin?.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Closes Firefox and ends the driver (waits at most 10 s; ns.remove() kills what is left). */
  async close(): Promise<void> {
    if (this.#exited !== null) return;
    const exited = new Promise<void>((ok) => this.child.once('exit', () => ok()));
    await Promise.race([this.call({ cmd: 'quit' }).catch(() => null), new Promise((r) => setTimeout(r, 10_000))]);
    this.child.stdin?.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  }
}
