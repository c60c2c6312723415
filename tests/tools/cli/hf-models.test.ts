// `bouquet generate` and `bouquet serve` with --model hf:owner/repo, HF_ENDPOINT pointing at a fake hub on 127.0.0.1 (real processes).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../../server/models/fake-hub.ts';

const exec = promisify(execFile);
const modelDir = '../shared/models/stories260K-hf';
const commit = 'a'.repeat(40);
let hub: FakeHub;
let cacheDir: string;

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

beforeAll(async () => {
  const files: Record<string, Uint8Array> = {};
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) files[f] = new Uint8Array(await readFile(join(modelDir, f)));
  hub = await startFakeHub({ 'tiny/stories260K-hf': { refs: { main: commit }, commits: { [commit]: files } } });
  cacheDir = await mkdtemp(join(tmpdir(), 'bouquet-cli-hub-'));
});

afterAll(async () => {
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
});

const hubEnv = (): NodeJS.ProcessEnv => ({ ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir, HF_TOKEN: '' });

describe('--model hf: in the CLI verbs', () => {
  it('generate downloads the model from HF_ENDPOINT and prints the greedy story', async () => {
    const readme = await readFile('../shared/models/stories260K/README.md', 'utf8');
    const story = squash(readme.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2)).join(' '));
    const { stdout, stderr } = await exec('node', ['bin/bouquet.js', 'generate', '--model', 'hf:tiny/stories260K-hf', '--temperature', '0', '--max-tokens', '100'], { env: hubEnv(), timeout: 60_000 });
    expect(squash(stdout).startsWith(story)).toBe(true);
    // Not a TTY: one line per downloaded file.
    expect(stderr).toMatch(/downloaded model\.safetensors/);
    expect(hub.requests.some((r) => r.url === `/tiny/stories260K-hf/resolve/${commit}/model.safetensors`)).toBe(true);
  });

  it('generate with an unknown repo exits 2 with the not-found code', async () => {
    const r = await exec('node', ['bin/bouquet.js', 'generate', '--model', 'hf:nobody/nothing'], { env: hubEnv(), timeout: 60_000 }).then(() => ({ code: 0, stderr: '' }), (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[not-found\]/);
  });

  it('serve serves the hub model under owner--repo', async () => {
    const child = spawn('node', ['bin/bouquet.js', 'serve', '--port', '0', '--model', 'hf:tiny/stories260K-hf', '--log-level', 'silent', '--state-dir', 'none'], { env: hubEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+) \(model (\S+), (\d+) blocks\)/.exec(out);
          if (m !== null) {
            clearTimeout(timer);
            expect(m[2]).toBe('tiny--stories260K-hf');
            expect(m[3]).toBe('5');
            resolve(m[1] ?? '');
          }
        });
        child.on('exit', (code) => reject(new Error(`serve exited ${String(code)}: ${out}`)));
      });
      const res = await fetch(`${url}/models/tiny--stories260K-hf/model.safetensors`, { headers: { Range: 'bytes=0-7' } });
      expect(res.status).toBe(206);
      const want = new Uint8Array(await readFile(join(modelDir, 'model.safetensors'))).subarray(0, 8);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(want);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
