// Namespaces joined by veth links, for delay experiments (benches and tests): made, addressed, and always removed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BouquetError } from '../../core/errors/index.ts';

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new BouquetError('backend-unavailable', `ip ${args.join(' ')} failed: ${r.stderr.trim() || r.error?.message || `exit ${String(r.status)}`}`);
}

/** Joins two namespaces by a veth pair, `aAddress`/`bAddress` with prefix `/prefixLen` on each end, both up. */
export function linkNamespaces(a: string, b: string, aAddress: string, bAddress: string, prefixLen = 24): void {
  const tag = randomBytes(3).toString('hex');
  const va = `bqa${tag}`;
  const vb = `bqb${tag}`;
  ip(['link', 'add', va, 'netns', a, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
  ip(['-n', a, 'addr', 'add', `${aAddress}/${prefixLen}`, 'dev', va]);
  ip(['-n', b, 'addr', 'add', `${bAddress}/${prefixLen}`, 'dev', vb]);
  ip(['-n', a, 'link', 'set', va, 'up']);
  ip(['-n', b, 'link', 'set', vb, 'up']);
}

// Namespaces made here and not yet removed: removed on process exit too.
const made = new Set<string>();
let hooked = false;

/** Makes `count` namespaces (`bq-<random>-<i>`, lo up), runs `fn`, and deletes them afterwards, also when it throws. */
export async function withNamespaces<T>(count: number, fn: (names: string[]) => Promise<T>): Promise<T> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => made.forEach((n) => spawnSync('ip', ['netns', 'del', n])));
  }
  const tag = randomBytes(3).toString('hex');
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `bq-${tag}-${i}`;
      ip(['netns', 'add', name]);
      made.add(name);
      names.push(name);
      ip(['-n', name, 'link', 'set', 'lo', 'up']);
    }
    return await fn(names);
  } finally {
    for (const name of names) {
      // Whatever still runs inside goes first, then the namespace (its veths and rules go with it).
      const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter((p) => p.trim() !== '');
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('ip', ['netns', 'del', name]);
      made.delete(name);
    }
  }
}
