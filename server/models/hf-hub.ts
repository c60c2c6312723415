// hf:owner/repo[@rev] → a folder on disk: only the files a model needs, streamed into the Hugging Face hub cache layout, resumable.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readFile, readlink, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { BouquetError, isBouquetError, type ErrorCode, type ErrorData } from '../../core/errors/index.ts';
import { RuntimeError, runtimeErrorCodes, type RuntimeErrorCode } from '../../worker/index.ts';

/** Model-loading failures stay RuntimeErrors where the runtime has the code (callers match that class); others are BouquetErrors. */
function hubFailure(code: ErrorCode, message: string, data?: ErrorData): BouquetError {
  return (runtimeErrorCodes as readonly string[]).includes(code) ? new RuntimeError(code as RuntimeErrorCode, message, data) : new BouquetError(code, message, data);
}

/** A parsed `hf:owner/repo[@rev]`. */
export interface HfModelSpec {
  /** owner/repo */
  repo: string;
  /** Branch, tag or 40-hex commit (default "main"). */
  revision: string;
}

/** Where and how to reach the hub; every field defaults from the environment as huggingface_hub does. */
export interface HubOptions {
  /** Hub cache root (default $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Hub base URL (default $HF_ENDPOINT or https://huggingface.co): a mirror goes here. */
  hubUrl?: string;
  /** Access token (default $HF_TOKEN), sent as `Authorization: Bearer`. */
  accessToken?: string;
  /** Use only the cache (default: $HF_HUB_OFFLINE is 1/true). */
  offline?: boolean;
  fetchFn?: typeof fetch;
  /** Called as bytes of a file arrive, and once when a file is complete (`done`). */
  onProgress?: (p: FileProgress) => void;
  /** Environment to read the defaults from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** Progress of one file of a download, bytes. */
export interface FileProgress {
  file: string;
  receivedBytes: number;
  totalBytes: number;
  /** True once the file is complete in the cache (also when it already was: then `cached`). */
  done: boolean;
  cached: boolean;
}

/** A model snapshot in the cache. */
export interface HfSnapshot {
  repo: string;
  /** The commit the revision resolved to. */
  commit: string;
  /** snapshots/<commit>/ of the repo in the hub cache: the model folder. */
  folder: string;
}

const repoPattern = /^[A-Za-z0-9][\w.-]{0,95}\/[\w.-]{1,96}$/;
const revisionPattern = /^[\w.\-/]{1,128}$/;
const commitPattern = /^[0-9a-f]{40}$/;
const etagPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const shardPattern = /^[\w.-]{1,200}\.safetensors$/;
/** Files a model may have besides its weights; config.json is required. */
const metaFiles = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];
const indexFile = 'model.safetensors.index.json';
/** The shard index is JSON of tensor names: far below this even for the largest checkpoints. */
const maxIndexBytes = 32 * 2 ** 20;

/** Parses `hf:owner/repo[@rev]`; throws 'bad-model' for anything else. */
export function parseHfSpec(spec: string): HfModelSpec {
  const body = spec.startsWith('hf:') ? spec.slice(3) : spec;
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  if (!repoPattern.test(repo) || repo.includes('..')) throw hubFailure('bad-model', `'${spec}' is not of the form hf:owner/repo[@revision]`, { spec });
  if (!revisionPattern.test(revision) || revision.includes('..')) throw hubFailure('bad-model', `'${spec}': revision '${revision}' is not a branch, tag or commit`, { spec });
  return { repo, revision };
}

/** The hub cache root huggingface_hub itself would use. */
export function defaultHubCacheDir(env: Record<string, string | undefined> = process.env): string {
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (set(env.HF_HUB_CACHE)) return env.HF_HUB_CACHE;
  if (set(env.HUGGINGFACE_HUB_CACHE)) return env.HUGGINGFACE_HUB_CACHE;
  if (set(env.HF_HOME)) return join(env.HF_HOME, 'hub');
  return join(homedir(), '.cache', 'huggingface', 'hub');
}

/** models--owner--repo under the cache root. */
function storageFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, `models--${repo.split('/').join('--')}`);
}

/**
 * Downloads what a model needs from `spec` (config, tokenizer files, generation config, safetensors or
 * the shards of its index) into the hub cache and returns its snapshot folder. Files already in the
 * cache are not fetched again; a cut download resumes from its `.incomplete` blob with a Range request.
 * Errors: 'bad-model' (bad spec, repo without config.json or safetensors), 'not-found' (no such repo
 * or revision, or no access), 'offline' (hub unreachable and no cached snapshot), 'bad-weights' (a
 * file that does not match its size or sha256), 'bad-argument' (a malformed HF_TOKEN).
 */
export async function downloadHfModel(spec: HfModelSpec, opts: HubOptions = {}): Promise<HfSnapshot> {
  const env = opts.env ?? process.env;
  const cacheDir = opts.cacheDir ?? defaultHubCacheDir(env);
  const hubUrl = (opts.hubUrl ?? (env.HF_ENDPOINT !== undefined && env.HF_ENDPOINT !== '' ? env.HF_ENDPOINT : 'https://huggingface.co')).replace(/\/+$/, '');
  const accessToken = opts.accessToken ?? (env.HF_TOKEN !== undefined && env.HF_TOKEN !== '' ? env.HF_TOKEN : undefined);
  const offline = opts.offline ?? ['1', 'true', 'yes'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase());
  const fetchFn = opts.fetchFn ?? fetch;
  const storage = storageFolder(cacheDir, spec.repo);
  const cached = async (why: string): Promise<HfSnapshot> => {
    const snap = await cachedSnapshot(storage, spec);
    if (snap !== null) return snap;
    throw hubFailure('offline', `hf:${spec.repo}@${spec.revision}: ${why}, and it is not in the cache (${cacheDir}). Connect, set HF_ENDPOINT to a mirror, or use a local model folder.`, { repo: spec.repo });
  };
  if (offline) return cached('offline mode (HF_HUB_OFFLINE)');
  if (accessToken !== undefined && !accessToken.startsWith('hf_')) throw hubFailure('bad-argument', 'HF_TOKEN must start with hf_ (a Hugging Face access token)');
  const credentials = accessToken === undefined ? {} : { accessToken };

  let commit: string;
  let entries: ListFileEntry[];
  try {
    const info = await modelInfo({ name: spec.repo, revision: spec.revision, hubUrl, fetch: fetchFn, additionalFields: ['sha'], ...credentials });
    const sha: unknown = (info as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !commitPattern.test(sha)) throw hubFailure('bad-model', `hf:${spec.repo}: the hub answered without a commit for revision ${spec.revision}`);
    commit = sha;
    entries = [];
    for await (const e of listFiles({ repo: spec.repo, revision: commit, hubUrl, fetch: fetchFn, ...credentials })) {
      entries.push(e);
      if (entries.length > 100_000) throw hubFailure('bad-model', `hf:${spec.repo}: more than 100000 files`);
    }
  } catch (e) {
    const err = hubError(e, spec);
    if (err.code === 'offline') return cached(err.message);
    throw err;
  }
  const byPath = new Map<string, ListFileEntry>();
  for (const e of entries) if (e.type === 'file' && typeof e.path === 'string') byPath.set(e.path, e);
  if (!byPath.has('config.json')) throw hubFailure('bad-model', `hf:${spec.repo}@${spec.revision} has no config.json: not a transformers model`, { repo: spec.repo });
  const snapshot = join(storage, 'snapshots', commit);
  const ctx: FetchContext = { hubUrl, repo: spec.repo, commit, storage, snapshot, fetchFn, ...(accessToken !== undefined ? { accessToken } : {}), ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}) };
  try {
    for (const name of metaFiles) {
      const entry = byPath.get(name);
      if (entry !== undefined) await fetchFile(ctx, entry);
    }
    const index = byPath.get(indexFile);
    if (index !== undefined) {
      if (index.size > maxIndexBytes) throw hubFailure('bad-model', `hf:${spec.repo}: ${indexFile} is ${index.size} bytes (over ${maxIndexBytes})`);
      await fetchFile(ctx, index);
      for (const shard of shardsOf(await readFile(join(snapshot, indexFile), 'utf8'), spec.repo)) {
        const entry = byPath.get(shard);
        if (entry === undefined) throw hubFailure('bad-model', `hf:${spec.repo}: ${indexFile} names ${shard}, which the repo does not have`);
        await fetchFile(ctx, entry);
      }
    } else {
      const single = byPath.get('model.safetensors');
      if (single === undefined) throw hubFailure('bad-model', `hf:${spec.repo}@${spec.revision} has no model.safetensors nor ${indexFile} (only safetensors weights are read)`, { repo: spec.repo });
      await fetchFile(ctx, single);
    }
  } catch (e) {
    throw hubError(e, spec);
  }
  if (!commitPattern.test(spec.revision)) {
    await mkdir(join(storage, 'refs', dirname(spec.revision)), { recursive: true });
    await writeFile(join(storage, 'refs', spec.revision), commit);
  }
  return { repo: spec.repo, commit, folder: snapshot };
}

/** A snapshot of the cache that holds config.json and its weights (for offline use), or null. */
async function cachedSnapshot(storage: string, spec: HfModelSpec): Promise<HfSnapshot | null> {
  let commit = spec.revision;
  if (!commitPattern.test(commit)) {
    commit = (await readFile(join(storage, 'refs', spec.revision), 'utf8').catch(() => '')).trim();
    if (!commitPattern.test(commit)) return null;
  }
  const folder = join(storage, 'snapshots', commit);
  const isFile = (name: string): Promise<boolean> => stat(join(folder, name)).then((s) => s.isFile(), () => false);
  if (!(await isFile('config.json'))) return null;
  if (await isFile(indexFile)) {
    const shards = shardsOf(await readFile(join(folder, indexFile), 'utf8'), spec.repo);
    for (const s of shards) if (!(await isFile(s))) return null;
  } else if (!(await isFile('model.safetensors'))) {
    return null;
  }
  return { repo: spec.repo, commit, folder };
}

/** The shard file names of a safetensors index (validated: plain names, no paths). */
function shardsOf(text: string, repo: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw hubFailure('bad-model', `hf:${repo}: ${indexFile} is not JSON`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null) throw hubFailure('bad-model', `hf:${repo}: ${indexFile} has no weight_map`);
  const shards = new Set<string>();
  for (const v of Object.values(map)) {
    if (typeof v !== 'string' || !shardPattern.test(v) || v.startsWith('.')) throw hubFailure('bad-model', `hf:${repo}: ${indexFile} names a shard ${JSON.stringify(v)} that is not a plain .safetensors file name`);
    shards.add(v);
  }
  if (shards.size === 0) throw hubFailure('bad-model', `hf:${repo}: ${indexFile} lists no shards`);
  return [...shards].sort();
}

interface FetchContext {
  hubUrl: string;
  repo: string;
  commit: string;
  storage: string;
  snapshot: string;
  fetchFn: typeof fetch;
  accessToken?: string;
  onProgress?: (p: FileProgress) => void;
}

/** Brings one file into blobs/<etag> (resuming a .incomplete one) and links snapshots/<commit>/<path> to it. */
async function fetchFile(ctx: FetchContext, entry: ListFileEntry): Promise<void> {
  const name = entry.path;
  const size = entry.lfs?.size ?? entry.size;
  const etag = entry.lfs?.oid ?? entry.oid;
  if (typeof etag !== 'string' || !etagPattern.test(etag)) throw hubFailure('bad-model', `hf:${ctx.repo}: ${name} has no usable object id in the file listing`);
  if (!Number.isSafeInteger(size) || size < 0) throw hubFailure('bad-model', `hf:${ctx.repo}: ${name} has a bad size in the file listing`);
  const blob = join(ctx.storage, 'blobs', etag);
  const pointer = join(ctx.snapshot, name);
  const report = (receivedBytes: number, done: boolean, cached: boolean): void => ctx.onProgress?.({ file: name, receivedBytes, totalBytes: size, done, cached });
  const have = await stat(blob).catch(() => null);
  if (have === null || have.size !== size) {
    await mkdir(dirname(blob), { recursive: true });
    await streamToBlob(ctx, name, size, blob, (n) => report(n, false, false));
    // LFS objects are named by the sha256 of their bytes: check it (git oids of small files are sha1 of a header + bytes).
    if (entry.lfs !== undefined) await checkSha256(blob, etag, ctx.repo, name);
    report(size, true, false);
  } else {
    report(size, true, true);
  }
  await linkPointer(blob, pointer);
}

async function streamToBlob(ctx: FetchContext, name: string, size: number, blob: string, onBytes: (n: number) => void): Promise<void> {
  const part = `${blob}.incomplete`;
  let offset = (await stat(part).catch(() => null))?.size ?? 0;
  if (offset > size) {
    await truncate(part, 0);
    offset = 0;
  }
  if (offset < size || size === 0) {
    const url = `${ctx.hubUrl}/${ctx.repo}/resolve/${ctx.commit}/${encodeURI(name)}`;
    const headers: Record<string, string> = {};
    if (ctx.accessToken !== undefined) headers.Authorization = `Bearer ${ctx.accessToken}`;
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const res = await ctx.fetchFn(url, { headers, redirect: 'follow' });
    if (res.status === 416 && offset === size) {
      await res.body?.cancel();
    } else {
      if (res.status === 404 || res.status === 401 || res.status === 403) throw hubFailure('not-found', `hf:${ctx.repo}: ${name} → HTTP ${res.status}`, { status: res.status });
      if (res.status !== 200 && res.status !== 206) throw hubFailure('offline', `hf:${ctx.repo}: ${name} → HTTP ${res.status}`, { status: res.status });
      if (res.status === 206) {
        const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
        if (Number(start) !== offset) throw hubFailure('bad-weights', `hf:${ctx.repo}: ${name}: asked to resume at byte ${offset}, got ${res.headers.get('content-range') ?? 'no Content-Range'}`);
      } else {
        offset = 0; // the server ignored the Range header: start over
      }
      const fh = await open(part, offset === 0 ? 'w' : 'a');
      let received = offset;
      try {
        if (res.body === null) throw hubFailure('offline', `hf:${ctx.repo}: ${name}: empty response`);
        const reader = res.body.getReader();
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (e) {
            throw hubFailure('offline', `hf:${ctx.repo}: download of ${name} cut after ${received} of ${size} bytes (${e instanceof Error ? e.message : String(e)}); run again to resume`, { receivedBytes: received, totalBytes: size });
          }
          if (chunk.done) break;
          if (received + chunk.value.byteLength > size) {
            await reader.cancel();
            throw hubFailure('bad-weights', `hf:${ctx.repo}: ${name} is longer than the ${size} bytes the listing says`);
          }
          await fh.write(chunk.value);
          received += chunk.value.byteLength;
          onBytes(received);
        }
      } finally {
        await fh.close();
      }
      if (received !== size) throw hubFailure('offline', `hf:${ctx.repo}: download of ${name} ended after ${received} of ${size} bytes; run again to resume`, { receivedBytes: received, totalBytes: size });
    }
  }
  await rename(part, blob);
}

async function checkSha256(file: string, expected: string, repo: string, name: string): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const got = hash.digest('hex');
  if (got !== expected) {
    await rm(file, { force: true });
    throw hubFailure('bad-weights', `hf:${repo}: ${name} has sha256 ${got}, the hub says ${expected}; the corrupt copy was removed, run again`);
  }
}

/** snapshots/<commit>/<name> → ../../blobs/<etag>, as huggingface_hub links them (a copy where links fail). */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const target = relative(dirname(pointer), blob);
  const existing = await lstat(pointer).catch(() => null);
  if (existing !== null) {
    if (existing.isSymbolicLink() && (await readlink(pointer)) === target) return;
    await rm(pointer, { force: true });
  }
  await symlink(target, pointer).catch(async () => {
    const { copyFile } = await import('node:fs/promises');
    await copyFile(blob, pointer);
  });
}

/** Maps what the hub library and fetch throw to a BouquetError with a code. */
function hubError(e: unknown, spec: HfModelSpec): BouquetError {
  if (isBouquetError(e)) return e;
  const status = (e as { statusCode?: unknown }).statusCode;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof status === 'number') {
    if (status === 401 || status === 403 || status === 404) {
      return hubFailure('not-found', `hf:${spec.repo}@${spec.revision}: no such repo or revision, or no access (HTTP ${status}; for a gated or private repo set HF_TOKEN)`, { repo: spec.repo, status });
    }
    return hubFailure('offline', `hf:${spec.repo}: the hub answered HTTP ${status} (${msg})`, { repo: spec.repo, status });
  }
  // fetch() rejects with a TypeError ("fetch failed") when the host cannot be reached.
  return hubFailure('offline', `hf:${spec.repo}: the hub cannot be reached (${msg}${causeOf(e)})`, { repo: spec.repo });
}

function causeOf(e: unknown): string {
  const c = (e as { cause?: unknown }).cause;
  if (c === undefined || c === null) return '';
  const code = (c as { code?: unknown }).code;
  return typeof code === 'string' ? `: ${code}` : c instanceof Error ? `: ${c.message}` : '';
}
