// The client's REST route provider against a real coordinator: the coordinator's error codes arrive unchanged.
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinatorApiError } from '../../../core/api/index.ts';
import { createServer, type BouquetServer } from '../../../server/index.ts';
import { CoordinatorRoutes } from '../../../web/client/index.ts';
import { stories260K } from '../../server/helpers.ts';

const servers: BouquetServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(): Promise<BouquetServer> {
  const s = await createServer({ port: 0, model: stories260K, logger: 'silent', coordinator: { placementDelayMs: 5 } });
  servers.push(s);
  return s;
}

const ask = { span: { start: 0, end: 5 }, promptTokens: 4, maxNewTokens: 4, excludePeers: [] };

describe('CoordinatorRoutes against a real coordinator', () => {
  it('brings a model-mismatch back as model-mismatch (the class the coordinator threw), naming the field', async () => {
    const s = await start();
    const routes = new CoordinatorRoutes({ origin: s.url, clientId: 'c1', modelId: 'llama-70b' });
    const err = await routes.requestRoute(ask).catch((e: unknown) => e);
    routes.dispose();
    expect(err).toBeInstanceOf(CoordinatorApiError);
    expect(err).toMatchObject({ code: 'model-mismatch', field: 'modelId' });
  });

  it('brings an uncovered span back as no-route', async () => {
    const s = await start();
    const routes = new CoordinatorRoutes({ origin: s.url, clientId: 'c1', maxQueueWaitMs: 200 });
    const err = await routes.requestRoute(ask).catch((e: unknown) => e);
    routes.dispose();
    expect(err).toMatchObject({ code: 'no-route' });
  });

  it('answers an aborted request with aborted, not timeout', async () => {
    const s = await start();
    const routes = new CoordinatorRoutes({ origin: s.url, clientId: 'c1' });
    const abort = new AbortController();
    abort.abort();
    const err = await routes.requestRoute(ask, abort.signal).catch((e: unknown) => e);
    routes.dispose();
    expect(err).toMatchObject({ code: 'aborted' });
  });
});
