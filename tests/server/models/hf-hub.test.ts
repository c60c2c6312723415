// hf:owner/repo[@rev] downloads against a local fake hub: revision pins, the token, resume after a cut, coded errors, the cache layout.
import { mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { downloadHfModel, parseHfSpec, resolveModel, terminalProgress, type FileProgress } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { startFakeHub, type FakeHub } from './fake-hub.ts';

const modelDir = '../shared/models/stories260K-hf';
const c1 = '1'.repeat(40);
const c2 = '2'.repeat(40);
let files: Record<string, Uint8Array>;
let hub: FakeHub;
let cacheDir: string | undefined;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
}

beforeAll(async () => {
  files = {};
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
    files[f] = new Uint8Array(await readFile(join(modelDir, f)));
  }
  // c2 (main) differs from c1 in its generation config; both carry a file no model loader needs.
  const unneeded = { 'pytorch_model.bin': new Uint8Array(1000), 'README.md': new TextEncoder().encode('# tiny') };
  hub = await startFakeHub({
    'tiny/stories260K-hf': {
      refs: { main: c2, v1: c1 },
      commits: {
        [c1]: { ...files, ...unneeded },
        [c2]: { ...files, ...unneeded, 'generation_config.json': new TextEncoder().encode('{"bos_token_id":1,"eos_token_id":2,"note":"c2"}') },
      },
    },
  });
});

afterAll(async () => {
  await hub.close();
});

afterEach(async () => {
  hub.requireToken(undefined);
  hub.requests.length = 0;
  if (cacheDir !== undefined) await rm(cacheDir, { recursive: true, force: true });
  cacheDir = undefined;
});

async function freshCache(): Promise<string> {
  cacheDir = await mkdtemp(join(tmpdir(), 'bouquet-hub-'));
  return cacheDir;
}

describe('hf: model specs', () => {
  it('parses owner/repo with an optional revision, and rejects paths', () => {
    expect(parseHfSpec('hf:a/b')).toEqual({ repo: 'a/b', revision: 'main' });
    expect(parseHfSpec('hf:a/b@v1.0')).toEqual({ repo: 'a/b', revision: 'v1.0' });
    for (const bad of ['hf:a', 'hf:../x', 'hf:a/b/c', 'hf:a/b@', 'hf:a/..@x', 'hf:a/b@../../etc']) {
      expect(() => parseHfSpec(bad), bad).toThrow(expect.objectContaining({ code: 'bad-model' }) as Error);
    }
  });
});

describe('hub downloads (fake hub on 127.0.0.1)', () => {
  it('downloads only the needed files of a pinned revision into the hub cache layout', async () => {
    const dir = await freshCache();
    const seen: FileProgress[] = [];
    const snap = await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf@v1'), { cacheDir: dir, hubUrl: hub.url, env: {}, onProgress: (p) => seen.push(p) });
    expect(snap.commit).toBe(c1);
    const storage = join(dir, 'models--tiny--stories260K-hf');
    expect(snap.folder).toBe(join(storage, 'snapshots', c1));
    expect((await readdir(snap.folder)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(await readFile(join(storage, 'refs', 'v1'), 'utf8')).toBe(c1);
    // Snapshot entries link into blobs/, named by the LFS sha256 for the weights.
    expect(await readlink(join(snap.folder, 'model.safetensors'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(new Uint8Array(await readFile(join(snap.folder, 'generation_config.json')))).toEqual(files['generation_config.json']);
    expect(hub.requests.some((r) => r.url.includes('pytorch_model.bin') || r.url.includes('README.md'))).toBe(false);
    expect(hub.requests.filter((r) => r.url.includes('/resolve/')).every((r) => r.url.includes(`/resolve/${c1}/`))).toBe(true);
    expect(seen.filter((p) => p.done).map((p) => p.file).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    // The weights load from the snapshot.
    const w = await openModelWeights((await resolveModel('hf:tiny/stories260K-hf@v1', { cacheDir: dir, hubUrl: hub.url, env: {} })).files);
    expect(w.shape.numBlocks).toBe(5);
  });

  it('follows main to its commit, and a second run fetches no file again', async () => {
    const dir = await freshCache();
    const a = await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, hubUrl: hub.url, env: {} });
    expect(a.commit).toBe(c2);
    expect(await readFile(join(a.folder, 'generation_config.json'), 'utf8')).toContain('c2');
    hub.requests.length = 0;
    const seen: FileProgress[] = [];
    await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, hubUrl: hub.url, env: {}, onProgress: (p) => seen.push(p) });
    expect(hub.requests.filter((r) => r.url.includes('/resolve/'))).toEqual([]);
    expect(seen.every((p) => p.cached)).toBe(true);
  });

  it('sends HF_TOKEN as Authorization: Bearer on every request, and a gated repo without it is not-found', async () => {
    const dir = await freshCache();
    hub.requireToken('hf_testtoken');
    expect(await codeOf(downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, hubUrl: hub.url, env: {} }))).toBe('not-found');
    hub.requests.length = 0;
    await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, env: { HF_TOKEN: 'hf_testtoken', HF_ENDPOINT: hub.url } });
    expect(hub.requests.length).toBeGreaterThan(2);
    expect(hub.requests.every((r) => r.headers.authorization === 'Bearer hf_testtoken')).toBe(true);
  });

  it('resumes a download cut mid-file with a Range request, and ends with the exact bytes', async () => {
    const dir = await freshCache();
    const total = files['model.safetensors']?.byteLength ?? 0;
    hub.cutOnce('model.safetensors', Math.floor(total / 3));
    expect(await codeOf(downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, hubUrl: hub.url, env: {} }))).toBe('offline');
    const blobs = await readdir(join(dir, 'models--tiny--stories260K-hf', 'blobs'));
    const partial = blobs.find((b) => b.endsWith('.incomplete'));
    expect(partial).toBeDefined();
    const had = (await stat(join(dir, 'models--tiny--stories260K-hf', 'blobs', partial ?? ''))).size;
    expect(had).toBeGreaterThan(0);
    expect(had).toBeLessThan(total);
    hub.requests.length = 0;
    const snap = await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, hubUrl: hub.url, env: {} });
    const resumed = hub.requests.find((r) => r.url.endsWith('/model.safetensors'));
    expect(resumed?.headers.range).toBe(`bytes=${had}-`);
    expect(new Uint8Array(await readFile(join(snap.folder, 'model.safetensors')))).toEqual(files['model.safetensors']);
  });

  it('a repo or revision that does not exist is not-found', async () => {
    const dir = await freshCache();
    expect(await codeOf(downloadHfModel(parseHfSpec('hf:nobody/nothing'), { cacheDir: dir, hubUrl: hub.url, env: {} }))).toBe('not-found');
    expect(await codeOf(downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf@no-such-branch'), { cacheDir: dir, hubUrl: hub.url, env: {} }))).toBe('not-found');
  });

  it('with the hub down: offline, unless the revision is already in the cache', async () => {
    const dir = await freshCache();
    const down = await startFakeHub({});
    const downUrl = down.url;
    await down.close();
    expect(await codeOf(downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf'), { cacheDir: dir, hubUrl: downUrl, env: {} }))).toBe('offline');
    expect(await codeOf(resolveModel('hf:tiny/stories260K-hf', { cacheDir: dir, hubUrl: downUrl, env: {} }))).toBe('offline');
    const online = await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf@v1'), { cacheDir: dir, hubUrl: hub.url, env: {} });
    const offline = await downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf@v1'), { cacheDir: dir, hubUrl: downUrl, env: {} });
    expect(offline.folder).toBe(online.folder);
    expect(await codeOf(downloadHfModel(parseHfSpec('hf:tiny/stories260K-hf@v1'), { cacheDir: dir, env: { HF_HUB_OFFLINE: '1' } }))).toBe('resolved');
  });
});

describe('terminal progress', () => {
  it('writes one line per finished file when stderr is not a TTY, and redraws a bar on a TTY', () => {
    const lines: string[] = [];
    const plain = terminalProgress({ isTTY: false, write: (s) => lines.push(s) > 0 });
    plain({ file: 'model.safetensors', receivedBytes: 10, totalBytes: 100, done: false, cached: false });
    plain({ file: 'model.safetensors', receivedBytes: 100, totalBytes: 100, done: true, cached: false });
    expect(lines).toEqual(['downloaded model.safetensors (0.00 MB)\n']);
    const tty: string[] = [];
    let now = 0;
    const bar = terminalProgress({ isTTY: true, columns: 100, write: (s) => tty.push(s) > 0 }, () => now);
    bar({ file: 'a', receivedBytes: 50, totalBytes: 100, done: false, cached: false });
    now = 1000;
    bar({ file: 'a', receivedBytes: 100, totalBytes: 100, done: true, cached: false });
    expect(tty[0]).toMatch(/^\r.* 50% /);
    expect(tty[1]).toMatch(/100%.*\n$/s);
  });
});
