// `bouquet volunteer` and `bouquet chat` refuse bad options with one line and exit code 2, before touching the network
// (--backend webgpu without Dawn's package or an adapter: tests/tools/dawn/dawn.test.ts).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');

describe('bouquet volunteer / chat usage errors', () => {
  it.each([
    ['volunteer'],
    ['volunteer', '--server', 'not a url'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--backend', 'cuda'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--memory-mb=-1'],
    ['volunteer', '--server', 'http://127.0.0.1:9', '--memory-mb', 'lots'],
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
});
