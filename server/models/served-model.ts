// Reads the served model's shape from its folder (Hugging Face config.json or a llama2.c checkpoint header).
import { BouquetError, registerErrorKind } from '../../core/errors/index.ts';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  blockBytes,
  llama2cHeaderBytes,
  shapeFromHfConfig,
  shapeFromLlama2cHeader,
  type ModelShape,
  type WeightPrecision,
} from '../../core/model/index.ts';
import type { ModelInfo } from '../../core/api/index.ts';
import { cacheBytesPerSlot } from '../../core/cache/index.ts';
import type { ModelWorkload } from '../../core/swarm/index.ts';

/** The model a coordinator serves: its shape, sizes for placement, and where its files are. */
export interface ServedModel {
  info: ModelInfo;
  shape: ModelShape;
  /** Folder holding the model's files on disk. */
  folder: string;
  /** What placement and routing policies read of it. */
  workload: ModelWorkload;
}

/** How to size the served model. */
export interface ModelSizing {
  /** Precision the volunteers serve block weights at (default fp32: what the test checkpoints hold). */
  weightPrecision?: WeightPrecision;
  /** Longest session the cache is sized for, tokens (default min(model max, 2048)). */
  maxSessionTokens?: number;
  /** Id to serve the model under (default: the folder's name; an hf: snapshot folder is named by its commit). */
  modelId?: string;
}

/** The folder a model lives in is unusable; the message says what to fix. */
export class ModelFolderError extends BouquetError<'bad-model'> {
  constructor(message: string) {
    super('bad-model', message);
  }
}
registerErrorKind('ModelFolderError', ModelFolderError);

function llama2cCheckpoint(folder: string, files: string[], id: string): string {
  const bins = files.filter((f) => f.endsWith('.bin') && !/^tok\d*\.bin$/.test(f));
  const preferred = bins.find((f) => f === `${id}.bin`) ?? bins[0];
  if (preferred === undefined) {
    throw new ModelFolderError(`model folder ${folder} has neither config.json (Hugging Face) nor a llama2.c .bin checkpoint`);
  }
  return path.join(folder, preferred);
}

/**
 * Loads the model at `modelPath` (a folder, or a llama2.c `.bin` file inside one). The model id is
 * the folder's name; its files are served under `/models/<id>/`.
 */
export async function loadServedModel(modelPath: string, sizing: ModelSizing = {}): Promise<ServedModel> {
  let st;
  try {
    st = await stat(modelPath);
  } catch {
    throw new ModelFolderError(`model path ${modelPath} does not exist (pass --model <folder>)`);
  }
  const folder = st.isDirectory() ? modelPath : path.dirname(modelPath);
  const id = sizing.modelId ?? path.basename(path.resolve(folder));
  const entries = await readdir(folder, { withFileTypes: true });
  // A hub cache snapshot holds symlinks to its blobs: count links to files as files.
  const isFile = async (e: (typeof entries)[number]): Promise<boolean> =>
    e.isFile() || (e.isSymbolicLink() && (await stat(path.join(folder, e.name)).then((s) => s.isFile(), () => false)));
  const files: string[] = [];
  for (const e of entries) if (!e.name.startsWith('.') && (await isFile(e))) files.push(e.name);
  files.sort();
  let shape: ModelShape;
  if (st.isDirectory() && files.includes('config.json')) {
    let config: unknown;
    try {
      config = JSON.parse(await readFile(path.join(folder, 'config.json'), 'utf8'));
    } catch (e) {
      throw new ModelFolderError(`${path.join(folder, 'config.json')} is not valid JSON: ${(e as Error).message}`);
    }
    shape = shapeFromHfConfig(config);
  } else {
    const file = st.isDirectory() ? llama2cCheckpoint(folder, files, id) : modelPath;
    const handle = await open(file, 'r');
    try {
      const header = new Uint8Array(llama2cHeaderBytes);
      const { bytesRead } = await handle.read(header, 0, llama2cHeaderBytes, 0);
      shape = shapeFromLlama2cHeader(header.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }
  const precision = sizing.weightPrecision ?? 'fp32';
  const maxSessionTokens = sizing.maxSessionTokens ?? Math.min(shape.maxSeqLen, 2048);
  if (!Number.isInteger(maxSessionTokens) || maxSessionTokens < 1) {
    throw new ModelFolderError(`maxSessionTokens must be a positive integer (got ${maxSessionTokens})`);
  }
  const info: ModelInfo = {
    id,
    numBlocks: shape.numBlocks,
    blockBytes: blockBytes(shape, precision),
    // s_c in core/cache's 16-token blocks: the coordinator's slot counts are then the slots a volunteer's cache sets aside.
    cacheBytesPerBlock: cacheBytesPerSlot(shape, maxSessionTokens, 'fp32'),
    maxSessionTokens,
    filesPath: `/models/${encodeURIComponent(id)}/`,
    files,
  };
  return {
    info,
    shape,
    folder: path.resolve(folder),
    workload: {
      numBlocks: info.numBlocks,
      blockBytes: info.blockBytes,
      cacheBytesPerBlock: info.cacheBytesPerBlock,
      hiddenSize: shape.hiddenSize,
      kvDim: shape.numKvHeads * shape.headDim,
      cacheBytesPerValue: 4,
    },
  };
}
