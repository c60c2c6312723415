// Node-only entry of the block runtime: local model folders, hf: downloads to a disk cache, onnxruntime-web for Node.
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { RuntimeError, type ModelLayout, detectLayout, type ModelFiles } from '../../worker/index.ts';
import { folderModelFiles } from './node-files.ts';

export { folderModelFiles, FileByteSource } from './node-files.ts';

/** A model found on disk: its files and layout. */
export interface LocalModel {
  files: ModelFiles;
  layout: ModelLayout;
}

/**
 * Resolves `--model`: a folder (Hugging Face layout, or llama2.c with one *.bin checkpoint and its
 * tokenizer), a llama2.c .bin file, or `hf:owner/repo` (downloaded once into `cacheDir`).
 */
export async function resolveModel(spec: string, opts: { cacheDir?: string; fetchFn?: typeof fetch } = {}): Promise<LocalModel> {
  if (spec.startsWith('hf:')) {
    const dir = await downloadHfModel(spec.slice(3), opts.cacheDir ?? join(homedir(), '.cache', 'bouquet', 'hf'), opts.fetchFn ?? fetch);
    const files = folderModelFiles(dir);
    return { files, layout: await detectLayout(files) };
  }
  const path = resolve(spec);
  const st = await stat(path).catch(() => null);
  if (st === null) throw new RuntimeError('bad-model', `model '${spec}' not found (give a model folder, a llama2.c .bin file, or hf:owner/repo)`);
  if (st.isFile()) {
    const files = folderModelFiles(dirname(path));
    return { files, layout: { kind: 'llama2c', checkpoint: basename(path) } };
  }
  const files = folderModelFiles(path);
  return { files, layout: await detectLayout(files) };
}

const hfFiles = { required: ['config.json', 'tokenizer.json'], optional: ['tokenizer_config.json', 'generation_config.json'] };

/** Downloads a Hugging Face model repo's config, tokenizer and safetensors (single or sharded) into the cache, once. */
async function downloadHfModel(repo: string, cacheRoot: string, fetchFn: typeof fetch): Promise<string> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new RuntimeError('bad-model', `'hf:${repo}' is not of the form hf:owner/repo`);
  const dir = join(cacheRoot, ...repo.split('/'));
  const done = join(dir, '.complete');
  if (await stat(done).then(() => true, () => false)) return dir;
  await mkdir(dir, { recursive: true });
  const base = `https://huggingface.co/${repo}/resolve/main/`;
  const get = async (name: string, optional: boolean): Promise<Uint8Array | null> => {
    let res: Response;
    try {
      res = await fetchFn(base + name);
    } catch (e) {
      throw new RuntimeError('offline', `could not download hf:${repo} (${name}): ${e instanceof Error ? e.message : String(e)} — are you offline? Use a local model folder instead.`);
    }
    if (res.status === 404 && optional) return null;
    if (!res.ok) throw new RuntimeError(res.status === 404 ? 'bad-model' : 'offline', `hf:${repo}: ${name} → HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const tmp = join(dir, `${name}.part`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(dir, name));
    return bytes;
  };
  for (const f of hfFiles.required) await get(f, false);
  for (const f of hfFiles.optional) await get(f, true);
  const index = await get('model.safetensors.index.json', true);
  if (index === null) {
    await get('model.safetensors', false);
  } else {
    const map = (JSON.parse(new TextDecoder().decode(index)) as { weight_map?: Record<string, string> }).weight_map ?? {};
    for (const shard of new Set(Object.values(map))) await get(shard, false);
  }
  await writeFile(done, new Date().toISOString());
  return dir;
}
