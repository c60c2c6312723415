// `bouquet generate` end to end (a real process): greedy stories260K text in both model layouts, JSON output, usage errors.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

async function bouquet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', ['bin/bouquet.js', 'generate', ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The greedy story as the model folder's README quotes it (lines starting with '> '). */
async function readmeStory(): Promise<string> {
  const readme = await readFile('../shared/models/stories260K/README.md', 'utf8');
  return squash(readme.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2)).join(' '));
}

describe('bouquet generate', () => {
  for (const model of ['../shared/models/stories260K', '../shared/models/stories260K-hf']) {
    it(`prints the README's greedy story with --temperature 0 (${model})`, async () => {
      const story = await readmeStory();
      expect(story.startsWith('Once upon a time')).toBe(true);
      const r = await bouquet(['--model', model, '--temperature', '0', '--max-tokens', '100']);
      expect(r.code).toBe(0);
      expect(squash(r.stdout).startsWith(story)).toBe(true);
      expect(r.stderr).toMatch(/tok\/s/);
    });
  }

  it('--json gives the same ids in both layouts, the text they decode to, and a speed', async () => {
    const runs = [];
    for (const model of ['../shared/models/stories260K', '../shared/models/stories260K-hf']) {
      const r = await bouquet(['--model', model, '--temperature', '0', '--max-tokens', '40', '--prompt', 'Lily and Tom', '--json']);
      expect(r.code).toBe(0);
      runs.push(JSON.parse(r.stdout) as { text: string; ids: number[]; tokensPerSecond: number });
    }
    const [a, b] = runs;
    expect(a?.ids.length).toBe(40);
    expect(a?.ids).toEqual(b?.ids);
    expect(a?.text).toBe(b?.text);
    expect(a?.tokensPerSecond).toBeGreaterThan(0);
  });

  it('samples reproducibly with a seed, differently with another', async () => {
    const args = ['--model', '../shared/models/stories260K', '--max-tokens', '30', '--temperature', '1', '--top-p', '0.95', '--json'];
    const one = JSON.parse((await bouquet([...args, '--seed', '42'])).stdout) as { ids: number[] };
    const two = JSON.parse((await bouquet([...args, '--seed', '42'])).stdout) as { ids: number[] };
    const other = JSON.parse((await bouquet([...args, '--seed', '43'])).stdout) as { ids: number[] };
    expect(one.ids).toEqual(two.ids);
    expect(other.ids).not.toEqual(one.ids);
  });

  it('usage errors print one line and exit 2', async () => {
    for (const args of [[], ['--model', '/no/such/model'], ['--model', '../shared/models/stories260K', '--top-p', '2'], ['--model', 'x', '--bogus']]) {
      const r = await bouquet(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    }
    const help = await bouquet(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--max-tokens');
  });
});
