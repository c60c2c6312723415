// --model resolution in Node: local model folders and llama2.c files, hf: specs through the hub cache.
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { RuntimeError, type ModelLayout, detectLayout, type ModelFiles } from '../../worker/index.ts';
import { folderModelFiles } from './node-files.ts';
import { downloadHfModel, parseHfSpec, type HubOptions } from './hf-hub.ts';

export { folderModelFiles, FileByteSource } from './node-files.ts';

/** A model found on disk: its files and layout. */
export interface LocalModel {
  files: ModelFiles;
  layout: ModelLayout;
}

/** Where a model spec lives on disk, and the id to serve it under. */
export interface ModelFolder {
  /** The folder (for hf: the hub cache snapshot) or, for a llama2.c checkpoint, the .bin file. */
  path: string;
  /** Served id: the folder's name, or owner--repo for hf:. */
  id: string;
}

/**
 * Turns `--model` into a path on disk: `hf:owner/repo[@rev]` is downloaded into the hub cache first
 * (see downloadHfModel); anything else is taken as a local path and returned as given.
 */
export async function modelFolder(spec: string, hub: HubOptions = {}): Promise<ModelFolder> {
  if (spec.startsWith('hf:')) {
    const parsed = parseHfSpec(spec);
    const snap = await downloadHfModel(parsed, hub);
    return { path: snap.folder, id: parsed.repo.split('/').join('--') };
  }
  return { path: spec, id: basename(resolve(spec)) };
}

/**
 * Resolves `--model`: a folder (Hugging Face layout, or llama2.c with one *.bin checkpoint and its
 * tokenizer), a llama2.c .bin file, or `hf:owner/repo[@rev]` (downloaded once into the hub cache).
 */
export async function resolveModel(spec: string, hub: HubOptions = {}): Promise<LocalModel> {
  if (spec.startsWith('hf:')) {
    const dir = (await modelFolder(spec, hub)).path;
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
