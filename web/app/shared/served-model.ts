// The coordinator's served model (the one lookup, through the core/api client), and how a block worker loads it over HTTP.
import { CoordinatorClient, type ModelInfo } from '../../../core/api/index.ts';
import type { WorkerModelSource } from '../../../worker/index.ts';

/** Reads a model (default: the server's first) from the coordinator's swarm state; throws a coded one-line error when it does not answer properly. */
export async function fetchServedModel(origin: string, client: CoordinatorClient = new CoordinatorClient({ origin }), modelId?: string): Promise<{ info: ModelInfo; source: WorkerModelSource }> {
  const served = await client.servedModel(undefined, modelId);
  const source: WorkerModelSource = { kind: 'url', baseUrl: served.baseUrl, ...(served.checkpoint !== undefined ? { checkpoint: served.checkpoint } : {}) };
  return { info: served.info, source };
}
