// Test support: a real TURN server (Debian's coturn) inside a test's namespace, with use-auth-secret logins.
//
//   const turn = await startCoturn(topology.wan, { listenIp: '10.77.1.1', secret });
//   … bouquet serve --ice-servers turn.url --turn-secret secret …
//   turn.log()   // what coturn said (allocations, refused logins)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { failInCi, type NetNamespace } from './netns.ts';

/** Where Debian's coturn installs its server. */
export const turnserverPath = '/usr/bin/turnserver';

/** Why coturn cannot run here, or null (in CI a missing coturn fails instead). */
export function coturnMissingReason(): string | null {
  return failInCi(existsSync(turnserverPath) ? null : `coturn not found at ${turnserverPath} (install it: apt-get install coturn)`);
}

/** A running coturn. */
export interface Coturn {
  /** `turn:<ip>:<port>` (UDP and TCP). */
  url: string;
  /** `stun:<ip>:<port>` (coturn answers STUN binding requests too). */
  stunUrl: string;
  /** The last 64 kB of its log. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts turnserver in `ns` on `listenIp:port`, relaying from the same address (relay ports
 * 49152–49400), accepting only logins derived from `secret` (use-auth-secret); resolves once it
 * listens. No TLS, no CLI, no database: everything on the command line, the state in a temp folder.
 */
export async function startCoturn(ns: NetNamespace, opts: { listenIp: string; secret: string; port?: number; realm?: string }): Promise<Coturn> {
  const port = opts.port ?? 3478;
  const dir = mkdtempSync(path.join(tmpdir(), 'bouquet-coturn-'));
  const child = ns.spawn(turnserverPath, [
    '-n', '--listening-ip', opts.listenIp, '--relay-ip', opts.listenIp, '--listening-port', String(port),
    '--min-port', '49152', '--max-port', '49400', '--use-auth-secret', '--static-auth-secret', opts.secret,
    '--realm', opts.realm ?? 'bouquet.test', '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780', '--no-stun-backward-compatibility',
    '--log-file', 'stdout', '--simple-log', '--verbose', '--pidfile', path.join(dir, 'turnserver.pid'), '--userdb', path.join(dir, 'turndb'),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (b: Buffer): void => {
    log = (log + b.toString()).slice(-65536);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const stop = (): Promise<void> => new Promise<void>((ok) => {
    const done = (): void => {
      rmSync(dir, { recursive: true, force: true });
      ok();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  });
  const deadline = Date.now() + 15_000;
  while (!/IPv4\. (UDP|TCP) listener opened on/.test(log)) {
    if (child.exitCode !== null) throw new Error(`turnserver exited with ${String(child.exitCode)}:\n${log}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`turnserver did not listen within 15 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `turn:${opts.listenIp}:${port}`, stunUrl: `stun:${opts.listenIp}:${port}`, log: () => log, stop };
}
