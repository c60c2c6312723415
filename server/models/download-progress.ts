// Terminal progress of a hub download: a bar redrawn in place on a TTY, one line per finished file otherwise.
import type { FileProgress } from './hf-hub.ts';

/** Where progress is written (process.stderr by default). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1);
}

/**
 * A FileProgress sink for a terminal. On a TTY it redraws one bar per file at most ~10 times a second;
 * elsewhere (a log file, CI) it writes a line when each file is complete, so logs stay readable.
 */
export function terminalProgress(out: ProgressStream = process.stderr, nowMs: () => number = () => Date.now()): (p: FileProgress) => void {
  let lastDrawMs = -Infinity;
  return (p) => {
    const what = p.cached ? 'cached' : 'downloaded';
    if (out.isTTY !== true) {
      if (p.done) out.write(`${what} ${p.file} (${mb(p.totalBytes)} MB)\n`);
      return;
    }
    const t = nowMs();
    if (!p.done && t - lastDrawMs < 100) return;
    lastDrawMs = t;
    const frac = p.totalBytes === 0 ? 1 : Math.min(1, p.receivedBytes / p.totalBytes);
    const width = Math.max(10, Math.min(40, (out.columns ?? 80) - 50));
    const filled = Math.round(frac * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${p.file.slice(-28).padEnd(28)} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${mb(p.receivedBytes)}/${mb(p.totalBytes)} MB`;
    out.write(`\r${line}\x1b[K${p.done ? `\r${what} ${p.file} (${mb(p.totalBytes)} MB)\x1b[K\n` : ''}`);
  };
}
