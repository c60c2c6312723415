// Peak memory of the Chromium renderer processes inside a test's network namespace: VmHWM (peak resident set) from /proc, the kernel's own high-water mark.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One renderer process (one tab, as Chromium gives each test tab its own browsing instance). */
export interface RendererPeak {
  pid: number;
  /** Chromium's --renderer-client-id: grows in the order the tabs were opened. */
  clientId: number;
  /** VmHWM: the most resident memory the process ever had, bytes. */
  peakBytes: number;
  /** VmRSS now, bytes. */
  rssBytes: number;
}

function statusBytes(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** VmHWM of a live process `pid` (any, not only a renderer), bytes; 0 where /proc cannot say. */
export function processPeakBytes(pid: number): number {
  return statusBytes(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
}

/** The renderer processes in namespace `ns`, in the order their tabs were opened (Linux only; [] where /proc cannot say). */
export function rendererPeaks(ns: string): RendererPeak[] {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').map((p) => Number(p.trim())).filter((p) => p > 0);
  const out: RendererPeak[] = [];
  for (const pid of pids) {
    try {
      // Zygote children rewrite their title: the arguments may come as one space-separated string, not NUL-separated.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!cmdline.includes('--type=renderer')) continue;
      const id = /--renderer-client-id=(\d+)/.exec(cmdline)?.[1];
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      out.push({ pid, clientId: Number(id ?? -1), peakBytes: statusBytes(status, 'VmHWM'), rssBytes: statusBytes(status, 'VmRSS') });
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a.clientId - b.clientId);
}
