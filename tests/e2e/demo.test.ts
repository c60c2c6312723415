// `bouquet demo --once --json` inside a network namespace: the answer equals `bouquet generate`'s, also when a
// volunteer tab is closed mid-way; and usage errors exit 2 with one line.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import { chromiumMissingReason, generateReference, repoRoot } from './swarm-support.ts';

const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');

describe('bouquet demo', () => {
  it('refuses bad options with one line and exit code 2', () => {
    for (const args of [['--volunteers', '0'], ['--backend', 'cuda'], ['--kill-volunteer-after', '3', '--volunteers', '1'], ['--volunteer-memory-mb', '0'], ['--bogus']]) {
      const r = spawnSync(process.execPath, [bouquet, 'demo', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^bouquet demo: /);
    }
  }, 120_000);

  it('a budget the tabs cannot hold the model in fails at once with one coded line (no browser, no 300 s wait)', () => {
    // 1 MiB does not even cover a tab's runtime (core/model's runtimeMemoryCosts), so no tab holds a block of stories260K.
    const r = spawnSync(process.execPath, [bouquet, 'demo', '--volunteers', '1', '--volunteer-memory-mb', '1', '--once'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ \[infeasible\]$/);
  }, 60_000);

  const skipReason = chromiumMissingReason() ?? netnsUnavailableReason();
  let ns: NetNamespace | undefined;
  afterAll(async () => {
    await ns?.remove();
  });

  // Needs Chromium and root for `ip netns`; skipped with the reason otherwise.
  it.skipIf(skipReason !== null)(`prints the same text as bouquet generate, across a failover (--once --json)${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, async () => {
    const maxTokens = 24;
    const reference = generateReference('Once upon a time', maxTokens);
    ns = await createNetNamespace();
    const child = ns.spawn(process.execPath, [bouquet, 'demo', '--once', '--json', '--port', '0', '--max-tokens', String(maxTokens), '--kill-volunteer-after', '8'], { cwd: repoRoot });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code, err).toBe(0);
    const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { text: string; ids: number[]; route: unknown[]; failovers: { failedPeer: string }[]; perTokenMs: number[] };
    expect(result.ids).toEqual(reference.ids);
    expect(result.text).toBe(reference.text);
    expect(result.failovers.length).toBeGreaterThanOrEqual(1);
    expect(result.perTokenMs).toHaveLength(reference.ids.length - 1);
  }, 480_000);
});
