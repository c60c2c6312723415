// CLI polish a user meets first: --version, "did you mean" for a typo in a verb or option, readable logs on a terminal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../bin/main.ts';
import { run as demo } from '../../../tools/cli/demo.ts';
import { run as plan } from '../../../tools/cli/plan.ts';
import { serveOptions } from '../../../tools/cli/serve.ts';
import { closestName } from '../../../tools/cli/sim-common.ts';
import { writeTinyModel } from '../../../tools/cli/tiny-model.ts';
import { run as generate } from '../../../tools/cli/generate.ts';
import { prettyLogLine, serverLogger } from '../../../server/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';
import { capture } from './cli-capture.ts';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('bouquet CLI polish', () => {
  it('prints the package version for --version', async () => {
    const out = await capture(main, ['--version']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(pkg.version);
  });

  it('suggests the closest verb for a typo and exits 2', async () => {
    const out = await capture(main, ['dmeo']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("did you mean 'demo'");
    const far = await capture(main, ['xyzzyplugh']);
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain('did you mean');
  });

  it('suggests the closest option for a typo in demo, plan and serve', async () => {
    const d = await capture(demo, ['--max-tokns', '5']);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('did you mean --max-tokens?');
    const p = await capture(plan, ['--scenari', 'x.json']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('did you mean --scenario?');
    let error: unknown;
    try {
      serveOptions(['--prot', '1'], {});
    } catch (e) {
      error = e;
    }
    expect(isBouquetError(error) && error.code === 'bad-argument').toBe(true);
    expect((error as Error).message).toContain('--port');
  });

  it('picks a name only when it is close enough to be a typo', () => {
    expect(closestName('volunters', ['volunteers', 'prompt'])).toBe('volunteers');
    expect(closestName('max', ['max-tokens', 'model'])).toBe('max-tokens');
    expect(closestName('zzzz', ['volunteers', 'prompt'])).toBeUndefined();
  });

  it('writes JSON lines when not a terminal and short readable lines on one', () => {
    const lines: string[] = [];
    const pipe = { write: (s: string) => lines.push(s), isTTY: false };
    serverLogger('info', 'bouquet-serve', pipe).warn({ peerId: 'p1' }, 'volunteer dropped');
    const record = JSON.parse(lines.join('')) as { level: number; msg: string; peerId: string };
    expect(record).toMatchObject({ level: 40, msg: 'volunteer dropped', peerId: 'p1' });

    const shown: string[] = [];
    const tty = { write: (s: string) => shown.push(s), isTTY: true };
    serverLogger('info', 'bouquet-serve', tty).warn({ peerId: 'p1', error: { code: 'infeasible', message: 'too little memory' } }, 'placement failed');
    const line = shown.join('');
    expect(line).not.toContain('{"level"');
    expect(line).toMatch(/WARN.*bouquet-serve: placement failed peerId=p1 error="infeasible: too little memory"/);
    expect(prettyLogLine('not json')).toBe('not json');
  });

  it('generates a tiny random model the demo can run without ../shared (6 blocks, llama2.c layout)', async () => {
    const dir = writeTinyModel(mkdtempSync(path.join(tmpdir(), 'bouquet-tiny-')));
    try {
      const out = await capture(generate, ['--model', dir, '--prompt', 'Once', '--max-tokens', '4', '--temperature', '0']);
      expect(out.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
