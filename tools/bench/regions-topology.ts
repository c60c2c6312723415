// bench:regions' network: a "wan" namespace with the server and one namespace per region, delays between regions by tools/netem, browsers inside.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { BouquetError } from '../../core/errors/index.ts';
import { median } from '../../core/stats/index.ts';
import { chromiumArgs, chromiumPath } from '../browser/chromium.ts';
import { linkNamespaces, probeUdpRtt, startDelay, type Delay } from '../netem/index.ts';

/** Region i's one address (its browsers and peers all use it): packets from it are what the other regions delay. */
export const regionAddress = (i: number): string => `10.241.${i}.2`;
/** The wan side of region i's link (region i's default route). */
const wanSide = (i: number): string => `10.241.${i}.1`;
/** The server's address: on the wan's loopback, outside every region's range, so no delay rule matches it. */
export const serverAddress = '10.241.100.1';

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new BouquetError('backend-unavailable', `ip ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${String(r.status)}`}`);
}

/**
 * Wires `regions` to `wan` (a veth each, default route via wan, wan forwards) and delays every packet from
 * region j entering region i by rttMs[i][j] / 2 (both directions, so the round trip is rttMs[i][j]).
 * The server on wan is not delayed. Returns the delays (stopped by the caller, or with the namespaces).
 */
export async function wireRegions(wan: string, regions: readonly string[], rttMs: readonly (readonly number[])[]): Promise<Delay[]> {
  regions.forEach((ns, i) => {
    linkNamespaces(wan, ns, wanSide(i), regionAddress(i));
    ip(['-n', ns, 'route', 'add', 'default', 'via', wanSide(i)]);
  });
  ip(['-n', wan, 'addr', 'add', `${serverAddress}/32`, 'dev', 'lo']);
  const fwd = spawnSync('ip', ['netns', 'exec', wan, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { encoding: 'utf8' });
  if (fwd.status !== 0) throw new BouquetError('backend-unavailable', `sysctl ip_forward in ${wan}: ${fwd.stderr.trim()}`);
  const delays: Delay[] = [];
  for (let i = 0; i < regions.length; i++) {
    for (let j = 0; j < regions.length; j++) {
      const rtt = rttMs[i]?.[j] ?? 0;
      if (i === j || rtt <= 0) continue;
      delays.push(await startDelay({ namespace: regions[i] as string, fromCidr: regionAddress(j), delayMs: rtt / 2, queueNum: j + 1 }));
    }
  }
  return delays;
}

/** Median UDP round trip between every pair of regions, ms (what the delayer gives, before any browser starts). */
export async function probeRegionRtts(regions: readonly string[], probes: number): Promise<number[][]> {
  const out = regions.map(() => regions.map(() => 0));
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const got = (await probeUdpRtt(regions[i] as string, regions[j] as string, regionAddress(j), probes, 10)).filter((r): r is number => r !== null);
      const m = got.length > 0 ? median(got) : NaN;
      (out[i] as number[])[j] = m;
      (out[j] as number[])[i] = m;
    }
  }
  return out;
}

/** A `bouquet serve` inside a namespace, with its log. */
export interface NamespacedServer {
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts `bouquet serve` in `ns` listening on every address, resolves once it listens (30 s at most). */
export function serveIn(ns: string, args: string[]): Promise<NamespacedServer> {
  const repoRoot = path.resolve(import.meta.dirname, '..', '..');
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(repoRoot, 'bin', 'bouquet.js'), 'serve', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const stop = (): Promise<void> => new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    child.once('exit', () => ok());
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new BouquetError('timeout', `bouquet serve did not listen within 30 s:\n${log}`));
    }, 30_000);
    const onData = (b: Buffer): void => {
      log = (log + b.toString()).slice(-262_144);
      if (log.includes('listening')) {
        clearTimeout(timer);
        resolve({ child, log: () => log, stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new BouquetError('backend-unavailable', `bouquet serve exited with ${String(code)}:\n${log}`));
    });
  });
}

/**
 * Headless Chromium inside `ns`. Its origin is plain http on a non-loopback address, so it is marked
 * secure (as the TURN test does); the media grant makes WebRTC offer the region's real address as a
 * host candidate (no mDNS name, which would not resolve across namespaces).
 */
export async function browserIn(ns: string, origin: string): Promise<{ browser: Browser; context: BrowserContext; remove(): void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bouquet-regions-'));
  const wrapper = path.join(dir, 'chromium.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${chromiumPath} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await chromium.launch({
    executablePath: wrapper,
    args: chromiumArgs({ extraArgs: [`--unsafely-treat-insecure-origin-as-secure=${origin}`, '--disable-background-timer-throttling', '--disable-renderer-backgrounding'] }),
  });
  const context = await browser.newContext({ permissions: ['microphone', 'camera'] });
  return { browser, context, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
