// `bouquet volunteer` and `bouquet chat` refuse bad options with one line and exit code 2, before touching the network
// (--backend webgpu without Dawn's package or an adapter: tests/tools/dawn/dawn.test.ts).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeMemoryCosts } from '../../../core/model/index.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');

describe('bouquet volunteer / chat usage errors', () => {
  it.each([
    ['volunteer'],
    ['volunteer', '--server', 'not a url'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--backend', 'cuda'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--memory-mb=-1'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--memory-mb', 'lots'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--budget-mb', '0'],
    ['chat'],
    ['chat', '--server', 'http://127.0.0.1:9', '--temperature', 'hot'],
    ['chat', '--server', 'http://127.0.0.1:9', '--max-tokens', '0'],
    ['demo', '--peers', 'robots'],
  ])('%s %s … exits 2 with one line', (...args: string[]) => {
    const r = spawnSync(process.execPath, [bouquet, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^bouquet ${args[0] ?? ''}: `));
  }, 60_000);

  // A budget is the whole process's memory: one that does not cover the Node runtime's own share, or one given beside
  // --memory-mb (weights + cache), is refused with a coded error before the volunteer touches the network.
  const fixedMb = runtimeMemoryCosts.node.fixedBytes / 2 ** 20;
  it.each([
    ['--budget-mb', String(fixedMb)],
    ['--budget-mb', String(fixedMb / 2)],
    ['--budget-mb', String(fixedMb + 64), '--memory-mb', '1'],
  ])('volunteer %s %s … is refused [bad-argument]', (...flags: string[]) => {
    const r = spawnSync(process.execPath, [bouquet, 'volunteer', '--server', 'http://127.0.0.1:9', ...flags], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/^bouquet volunteer: .* \[bad-argument\]$/);
  }, 60_000);
});
