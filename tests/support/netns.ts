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

/** Runs a command inside namespace `ns` (ip netns exec), throwing with its stderr when it fails. */
export function execIn(ns: string, command: string, args: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} in ${ns} failed: ${r.stderr.trim() || r.error?.message || `exit ${String(r.status)}`}`);
  return r.stdout;
}

/** Addresses of the NAT topology (they exist only inside its namespaces; nothing routes outside them). */
export const natAddresses = {
  /** The "wan" side of NAT router 1 and the wan namespace's own address there (server and coturn listen on it). */
  wan1: '10.77.1.1',
  router1Outside: '10.77.1.2',
  wan2: '10.77.2.1',
  router2Outside: '10.77.2.2',
  router1Inside: '192.168.1.1',
  home1: '192.168.1.2',
  router2Inside: '192.168.2.1',
  home2: '192.168.2.2',
} as const;

/**
 * Two homes behind their own NAT routers, joined by a "wan" namespace:
 *
 *   home1 (192.168.1.2) ─ nat1 [masquerade] 10.77.1.2 ─┐
 *                                                       wan (10.77.1.1, 10.77.2.1: server, coturn)
 *   home2 (192.168.2.2) ─ nat2 [masquerade] 10.77.2.2 ─┘
 *
 * Each home's default route goes to its router, each router's to wan; wan has no default route, so
 * nothing leaves the topology. `blockDirect(true)` drops everything wan would forward between the two
 * routers' outside addresses, so two homes can meet only through a relay in wan (Linux masquerade
 * hole-punches fine without it).
 */
export interface NatTopology {
  wan: NetNamespace;
  nat1: NetNamespace;
  nat2: NetNamespace;
  home1: NetNamespace;
  home2: NetNamespace;
  /** Adds (true) or removes (false) the drop rule between the routers' outside addresses. */
  blockDirect(block: boolean): void;
  /** Kills what runs inside and removes every namespace (also after a failed setup step). */
  remove(): Promise<void>;
}

/** Why the NAT topology cannot be built here (root, iproute2 and iptables needed), or null. */
export function natTopologyUnavailableReason(): string | null {
  const ns = namespaceProblem();
  if (ns !== null) return failInCi(ns);
  const r = spawnSync('iptables', ['--version'], { encoding: 'utf8' });
  return failInCi(r.error !== undefined || r.status !== 0 ? 'iptables is not installed (apt-get install iptables)' : null);
}

/** Builds the topology above; removes what it made if a step fails. */
export async function createNatTopology(): Promise<NatTopology> {
  const made: NetNamespace[] = [];
  const removeAll = async (): Promise<void> => {
    for (const ns of made.reverse()) await ns.remove();
  };
  try {
    const [wan, nat1, nat2, home1, home2] = [await createNetNamespace(), await createNetNamespace(), await createNetNamespace(), await createNetNamespace(), await createNetNamespace()] as const;
    made.push(wan, nat1, nat2, home1, home2);
    const a = natAddresses;
    // A veth pair made directly between two namespaces (never in the host's, where names could clash).
    const link = (left: NetNamespace, leftName: string, leftCidr: string, right: NetNamespace, rightName: string, rightCidr: string): void => {
      run(['-n', left.name, 'link', 'add', leftName, 'type', 'veth', 'peer', 'name', rightName, 'netns', right.name]);
      run(['-n', left.name, 'addr', 'add', leftCidr, 'dev', leftName]);
      run(['-n', right.name, 'addr', 'add', rightCidr, 'dev', rightName]);
      run(['-n', left.name, 'link', 'set', leftName, 'up']);
      run(['-n', right.name, 'link', 'set', rightName, 'up']);
    };
    link(wan, 'w1', `${a.wan1}/24`, nat1, 'out', `${a.router1Outside}/24`);
    link(wan, 'w2', `${a.wan2}/24`, nat2, 'out', `${a.router2Outside}/24`);
    link(nat1, 'in', `${a.router1Inside}/24`, home1, 'eth0', `${a.home1}/24`);
    link(nat2, 'in', `${a.router2Inside}/24`, home2, 'eth0', `${a.home2}/24`);
    run(['-n', home1.name, 'route', 'add', 'default', 'via', a.router1Inside]);
    run(['-n', home2.name, 'route', 'add', 'default', 'via', a.router2Inside]);
    run(['-n', nat1.name, 'route', 'add', 'default', 'via', a.wan1]);
    run(['-n', nat2.name, 'route', 'add', 'default', 'via', a.wan2]);
    for (const ns of [wan, nat1, nat2]) execIn(ns.name, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    for (const ns of [nat1, nat2]) {
      execIn(ns.name, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'out', '-j', 'MASQUERADE']);
      // Like a home router, drop unsolicited UDP to the router itself. Without this, a peer's first ICE check
      // (arriving before this side's own check went out) is tracked as a local flow to the mapped port, and the
      // masquerade then gives this side's check another port: the hole punch never meets.
      execIn(ns.name, 'iptables', ['-A', 'INPUT', '-i', 'out', '-p', 'udp', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP']);
    }
    let blocked = false;
    const rules = [[a.router1Outside, a.router2Outside], [a.router2Outside, a.router1Outside]] as const;
    return {
      wan, nat1, nat2, home1, home2,
      blockDirect(block: boolean): void {
        if (block === blocked) return;
        for (const [s, d] of rules) execIn(wan.name, 'iptables', [block ? '-I' : '-D', 'FORWARD', '-s', s, '-d', d, '-j', 'DROP']);
        blocked = block;
      },
      remove: removeAll,
    };
  } catch (e) {
    await removeAll();
    throw e;
  }
}

/**
 * A namespace with one non-loopback address (`address`/24 on a veth pair whose both ends stay inside):
 * pages opened at that address are not "potentially trustworthy" the way localhost is, so only HTTPS
 * gives them a secure context.
 */
export async function createLanNamespace(address: string): Promise<NetNamespace> {
  const ns = await createNetNamespace();
  try {
    run(['-n', ns.name, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
    run(['-n', ns.name, 'addr', 'add', `${address}/24`, 'dev', 'lan0']);
    run(['-n', ns.name, 'link', 'set', 'lan0', 'up']);
    run(['-n', ns.name, 'link', 'set', 'lan1', 'up']);
    run(['-n', ns.name, 'route', 'add', 'default', 'dev', 'lan0']);
  } catch (e) {
    await ns.remove();
    throw e;
  }
  return ns;
}
