// Small helpers shared by the weight readers.
import { RuntimeError } from '../errors.ts';
import { releaseBuffers } from './release.ts';
import type { ModelFiles } from './types.ts';

/** Reads and parses a JSON file of the model; 'bad-model' when missing or malformed. */
export async function readJson(files: ModelFiles, name: string): Promise<unknown> {
  if (!(await files.exists(name))) throw new RuntimeError('bad-model', `${files.location}: ${name} not found`);
  const src = files.open(name);
  const bytes = await src.read(0, await src.size());
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new RuntimeError('bad-model', `${files.location}/${name} is not valid JSON`);
  }
}

/** Throws 'bad-weights' when a tensor holds NaN or ±Infinity (a corrupt file would otherwise give silent garbage). */
export function assertFinite(data: Float32Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] ?? 0;
    if (v - v !== 0) throw new RuntimeError('bad-weights', `${what} holds ${String(v)} at index ${i} (corrupt weights)`);
  }
}

/**
 * Float32 values of `bytes` (little-endian), always a copy of their own (4-byte aligned). The bytes, when a whole
 * buffer of their own (what ByteSource reads return), are detached once copied (releaseBuffers), not left to the
 * collector. Viewing a fetched body in place instead was measured worse: its memory stayed resident after detaching
 * (Chromium 156, docs/results.md "Tab memory").
 */
export function float32Of(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  releaseBuffers([bytes]);
  return new Float32Array(copy.buffer);
}
