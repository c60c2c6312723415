// Test support: a loopback-only network namespace the harness creates and removes (swarm tests send traffic only there).
//
//   const ns = await createNetNamespace();          // ip netns add bq-<random>; ip -n … link set lo up
//   const server = ns.spawn('node', ['bin/bouquet.js', 'serve', …]);
//   const browser = await chromium.launch({ executablePath: ns.wrap('/usr/bin/chromium'), … });
//   …
//   await ns.remove();                              // kills what it started, ip netns del
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A network namespace with only `lo` up. */
export interface NetNamespace {
  name: string;
  /** Starts a process inside the namespace (tracked: `remove` kills it if still running). */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Path of a script that execs `executable` inside the namespace (for launchers that take a path, like playwright). */
  wrap(executable: string): string;
  /** Kills the processes it started and deletes the namespace. */
  remove(): Promise<void>;
}

/** Why namespaces cannot be used here, or null when they can (root and iproute2 needed). */
export function netnsUnavailableReason(): string | null {
  return failInCi(namespaceProblem());
}

function namespaceProblem(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root (ip netns add)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return `iproute2's 'ip netns' does not work here: ${r.error?.message ?? r.stderr}`;
  return null;
}

/**
 * A browser suite may skip on a developer's machine that lacks Chromium or root, saying why; in CI
 * (CI=true) the same reason fails the run instead, so a broken install cannot pass as a skip.
 */
export function failInCi(reason: string | null): string | null {
  if (reason !== null && process.env.CI === 'true') throw new Error(`CI must run the browser suites, but ${reason}`);
  return reason;
}

function run(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim() || r.error?.message || `exit ${String(r.status)}`}`);
}

/** Creates `bq-<random>` with `lo` up. */
export function createNetNamespace(): Promise<NetNamespace> {
  const name = `bq-${randomBytes(4).toString('hex')}`;
  run(['netns', 'add', name]);
  try {
    run(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    spawnSync('ip', ['netns', 'del', name]);
    throw e;
  }
  const children = new Set<ChildProcess>();
  const scripts = mkdtempSync(join(tmpdir(), `${name}-`));
  return Promise.resolve({
    name,
    spawn(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
      // detached: the child leads its own process group, so remove() can end it and its children.
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], { stdio: 'pipe', detached: true, ...options });
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    wrap(executable: string): string {
      const file = join(scripts, `${executable.split('/').pop() ?? 'cmd'}-in-${name}.sh`);
      writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${name} ${executable} "$@"\n`);
      chmodSync(file, 0o755);
      return file;
    },
    async remove(): Promise<void> {
      for (const c of children) {
        if (c.pid !== undefined && c.exitCode === null) {
          try {
            process.kill(-c.pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      }
      const deadline = Date.now() + 5000;
      while ([...children].some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const c of children) {
        if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
          try {
            process.kill(-c.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // Anything else still inside (e.g. browser helpers) goes too, then the namespace.
      const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter((p) => p.trim() !== '');
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('ip', ['netns', 'del', name]);
      rmSync(scripts, { recursive: true, force: true });
    },
  });
}
