// Where a page finds the served model: the coordinator's swarm state names it and lists its files.
import { BouquetError } from '../../core/errors/index.ts';
import { apiPaths, parseSwarmState, type ModelInfo } from '../../core/api/index.ts';
import type { WorkerModelSource } from '../../worker/index.ts';

/** The coordinator's model and how a worker loads it over HTTP. */
export async function servedModel(origin: string): Promise<{ info: ModelInfo; source: WorkerModelSource }> {
  const res = await fetch(new URL(apiPaths.swarm, origin));
  const parsed = parseSwarmState(await res.json());
  if (!parsed.ok) throw new BouquetError('bad-request', `coordinator sent an invalid swarm state: ${parsed.error.message}`);
  const info = parsed.value.model;
  // HTTP cannot list a folder: name the llama2.c checkpoint when the model is one.
  const checkpoint = info.files.find((f) => f.endsWith('.bin') && !/^tok\d*\.bin$/.test(f));
  const baseUrl = new URL(info.filesPath, origin).href;
  const source: WorkerModelSource = { kind: 'url', baseUrl, ...(checkpoint !== undefined && !info.files.includes('config.json') ? { checkpoint } : {}) };
  return { info, source };
}

/** Backends from `?backend=wasm` or `?backend=webgpu,wasm` (default WebGPU, then wasm). */
export function backendsFromQuery(params: URLSearchParams): ('webgpu' | 'wasm')[] {
  const raw = params.get('backend');
  if (raw === null || raw === '') return ['webgpu', 'wasm'];
  return raw.split(',').filter((b): b is 'webgpu' | 'wasm' => b === 'webgpu' || b === 'wasm');
}
