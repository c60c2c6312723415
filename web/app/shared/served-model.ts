// The coordinator's served model, and how a block worker loads it over HTTP (llama2.c checkpoints must be named).
import { BouquetError } from '../../../core/errors/index.ts';
import { apiPaths, parseSwarmState, type ModelInfo } from '../../../core/api/index.ts';
import type { WorkerModelSource } from '../../../worker/index.ts';

/** Reads the model from GET /api/swarm; throws a one-line error when the coordinator does not answer properly. */
export async function fetchServedModel(origin: string): Promise<{ info: ModelInfo; source: WorkerModelSource }> {
  let raw: unknown;
  try {
    raw = await (await fetch(new URL(apiPaths.swarm, origin))).json();
  } catch (e) {
    throw new BouquetError('peer-unavailable', `the coordinator at ${origin} does not answer (${e instanceof Error ? e.message : String(e)})`);
  }
  const parsed = parseSwarmState(raw);
  if (!parsed.ok) throw new BouquetError('bad-request', `the coordinator sent an invalid swarm state: ${parsed.error.message}`);
  const info = parsed.value.model;
  const checkpoint = info.files.includes('config.json') ? undefined : info.files.find((f) => f.endsWith('.bin') && !/^tok(enizer)?\d*\.bin$/.test(f));
  const source: WorkerModelSource = { kind: 'url', baseUrl: new URL(info.filesPath, origin).href, ...(checkpoint !== undefined ? { checkpoint } : {}) };
  return { info, source };
}
