// Packet delay between network namespaces: builds the C delayer (nfnetlink_queue), puts it behind an iptables NFQUEUE rule, removes both after.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BouquetError } from '../../core/errors/index.ts';

// Why C and not Node: Node has no NFQUEUE binding and the box has no libnetfilter_queue, so the
// delayer speaks nfnetlink over a raw netlink socket, which needs the kernel headers gcc has. It is
// compiled at first use (seconds) into the temp folder, keyed by the source's hash.
const source = join(import.meta.dirname, 'delayer.c');

/** One direction of delay: packets entering `namespace` from `fromCidr` wait `delayMs` before delivery. */
export interface DelaySpec {
  /** The namespace whose INPUT chain gets the rule (`ip netns` name). */
  namespace: string;
  /** Source addresses delayed, e.g. `10.77.1.0/24`. */
  fromCidr: string;
  /** One-way delay added to each packet, in milliseconds (0–10 000). */
  delayMs: number;
  /** NFQUEUE queue number, unique within the namespace (0–65 535). */
  queueNum: number;
  /** Most packets held at once; more are dropped (netem's `limit`). Default 4096. */
  maxPackets?: number;
}

/** A running delay; `stop` removes the rule first (traffic flows undelayed), then releases held packets. */
export interface Delay {
  spec: DelaySpec;
  /** Removes the rule and ends the delayer; resolves with its packet counts. */
  stop(): Promise<{ accepted: number; dropped: number }>;
}

/** Why delays cannot be made here, or null (root, gcc, iptables and `ip netns` needed). */
export function delayUnavailableReason(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'packet delay needs root (iptables, netlink)';
  for (const tool of ['gcc', 'iptables', 'ip']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) return `${tool} is not installed (apt-get install -y ${tool === 'ip' ? 'iproute2' : tool})`;
  }
  return null;
}

/** Path of the compiled delayer, building it when the source changed. */
export function buildDelayer(): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'bouquet-netem');
  const binary = join(dir, `delayer-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', partial, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new BouquetError('backend-unavailable', `building the delayer failed: ${r.stderr.trim() || r.error?.message || `gcc exit ${String(r.status)}`}`);
  renameSync(partial, binary);
  return binary;
}

function iptablesArgs(spec: DelaySpec, op: '-I' | '-D'): string[] {
  return ['netns', 'exec', spec.namespace, 'iptables', '-w', op, 'INPUT', '-s', spec.fromCidr, '-j', 'NFQUEUE', '--queue-num', String(spec.queueNum), '--queue-bypass'];
}

function checkSpec(spec: DelaySpec): void {
  const ok =
    /^[A-Za-z0-9_.-]{1,64}$/.test(spec.namespace) &&
    /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(spec.fromCidr) &&
    Number.isFinite(spec.delayMs) && spec.delayMs >= 0 && spec.delayMs <= 10_000 &&
    Number.isInteger(spec.queueNum) && spec.queueNum >= 0 && spec.queueNum <= 65_535 &&
    (spec.maxPackets === undefined || (Number.isInteger(spec.maxPackets) && spec.maxPackets >= 1 && spec.maxPackets <= 1_000_000));
  if (!ok) throw new BouquetError('bad-argument', `bad delay spec ${JSON.stringify(spec)}`);
}

// Rules and delayers still in place, removed on process exit too (a failed test must not leave a rule).
const live = new Map<ChildProcess, DelaySpec>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [child, spec] of live) {
      spawnSync('ip', iptablesArgs(spec, '-D'));
      child.kill('SIGKILL');
    }
  });
}

/** Starts a delayer and inserts its rule; resolves once packets are being delayed. */
export async function startDelay(spec: DelaySpec): Promise<Delay> {
  checkSpec(spec);
  const binary = buildDelayer();
  installExitHook();
  const delayUs = String(Math.round(spec.delayMs * 1000));
  const child = spawn('ip', ['netns', 'exec', spec.namespace, binary, String(spec.queueNum), delayUs, String(spec.maxPackets ?? 4096)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4096)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4096)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  live.set(child, spec);
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      live.delete(child);
      child.kill('SIGKILL');
      throw new BouquetError('backend-unavailable', `the delayer did not start: ${err.trim() || 'no answer within 10 s'}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const rule = spawnSync('ip', iptablesArgs(spec, '-I'), { encoding: 'utf8' });
  if (rule.status !== 0) {
    live.delete(child);
    child.kill('SIGTERM');
    throw new BouquetError('backend-unavailable', `iptables NFQUEUE rule refused: ${rule.stderr.trim()}`);
  }
  return {
    spec,
    async stop() {
      if (!live.has(child)) return { accepted: 0, dropped: 0 };
      spawnSync('ip', iptablesArgs(spec, '-D'));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      live.delete(child);
      const m = /accepted (\d+) dropped (\d+)/.exec(out);
      return { accepted: Number(m?.[1] ?? 0), dropped: Number(m?.[2] ?? 0) };
    },
  };
}
