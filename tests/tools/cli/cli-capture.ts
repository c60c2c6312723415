// Runs a CLI verb module in-process and captures what it prints.
import { vi } from 'vitest';

/** Output of one in-process verb run. */
export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Calls `run(argv)` with console.log / console.error captured. */
export async function capture(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.map(String).join(' ')));
  try {
    const code = await run(argv);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
