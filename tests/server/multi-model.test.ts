// Several models in one server over loopback: per-model registries, routes, leases, dashboards and policy switches, routed by modelId.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  apiPaths,
  parseDashboardMessage,
  parseModelsList,
  parseRouteResponse,
  routeReleasePath,
  routeRenewPath,
  routeTicketPath,
  withModelId,
  type DashboardMessage,
  type ModelsList,
  type RouteGranted,
} from '../../core/api/index.ts';
import type { BouquetServer, ServerOptions } from '../../server/index.ts';
import { adminHeaders, budget, json, stories260K, TestServers, TestVolunteer, until } from './helpers.ts';
import { swarmState } from './swarm-api.ts';

// Two real checkpoints of the same shape in the two layouts: ids 'stories260K' (llama2.c) and 'stories260K-hf'.
const llama2c = stories260K;
const hf = `${stories260K}-hf`;
const swarmOf = new TestServers({ coordinator: { ticketTtlMs: 5_000, keyBoundPeerIds: false } });
const volunteers = swarmOf.volunteers;
afterEach(() => swarmOf.cleanUp());

function start(models: string[] = [llama2c, hf], options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  return swarmOf.start({ model: models, ...options });
}

function join(s: BouquetServer, peerId: string, modelId: string, blocks = 5): Promise<TestVolunteer> {
  return swarmOf.join(s, { peerId, memoryBytes: budget(blocks, 8), modelId });
}

async function models(s: BouquetServer): Promise<ModelsList> {
  const parsed = parseModelsList((await json(s.url + apiPaths.servedModels)).body);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

async function settled(s: BouquetServer): Promise<void> {
  for (const m of s.models.all()) await m.coordinator.whenSettled();
  await until(() => s.models.all().every((m) => m.coordinator.state().volunteers.every((v) => v.state === 'serving')), 5000, 'volunteers serving');
}

async function granted(s: BouquetServer, body: Record<string, unknown>): Promise<RouteGranted> {
  const r = await json(s.url + apiPaths.routes, { body: { clientId: 'c', promptTokens: 4, maxNewTokens: 8, ...body } });
  const parsed = parseRouteResponse(r.body);
  if (!parsed.ok) throw parsed.error;
  if (parsed.value.kind !== 'route') throw new Error(`expected a route, got ${JSON.stringify(parsed.value)}`);
  return parsed.value;
}

function errorCode(body: unknown): string | undefined {
  return (body as { error?: { code?: string } } | undefined)?.error?.code;
}

describe('two models in one server', () => {
  it('keeps a registry per model: each volunteer is in its own model\'s swarm only; a message without modelId is the first model\'s', async () => {
    const s = await start();
    expect(s.models.ids).toEqual(['stories260K', 'stories260K-hf']);
    await join(s, 'a1', 'stories260K');
    await join(s, 'b1', 'stories260K-hf');
    await join(s, 'b2', 'stories260K-hf');
    await settled(s);
    expect((await swarmState(s)).volunteers.map((v) => v.peerId)).toEqual(['a1']);
    expect((await swarmState(s, 'stories260K')).volunteers.map((v) => v.peerId)).toEqual(['a1']);
    expect((await swarmState(s, 'stories260K-hf')).volunteers.map((v) => v.peerId).sort()).toEqual(['b1', 'b2']);
    expect((await swarmState(s, 'stories260K-hf')).model.filesPath).toBe('/models/stories260K-hf/');
    // Both models' files are served, each under its id.
    expect((await fetch(`${s.url}/models/stories260K-hf/config.json`)).status).toBe(200);
    expect((await fetch(`${s.url}/models/stories260K/tok512.bin`)).status).toBe(200);
    const health = await json(s.url + apiPaths.health);
    expect(health.body).toMatchObject({ ok: true, model: 'stories260K', models: ['stories260K', 'stories260K-hf'] });
  });

  it('grants each model a chain of its own volunteers; releases and renewals find the lease wherever it was granted', async () => {
    const s = await start();
    await join(s, 'a1', 'stories260K');
    await join(s, 'b1', 'stories260K-hf');
    await settled(s);
    const a = await granted(s, {});
    expect(a.modelId).toBe('stories260K');
    expect(a.chain.map((h) => h.peerId)).toEqual(['a1']);
    const b = await granted(s, { modelId: 'stories260K-hf' });
    expect(b.modelId).toBe('stories260K-hf');
    expect(b.chain.map((h) => h.peerId)).toEqual(['b1']);
    expect((await json(s.url + routeRenewPath(b.leaseId), { body: { leaseSecret: b.leaseSecret } })).body).toMatchObject({ kind: 'renewed', leaseId: b.leaseId });
    expect((await swarmState(s, 'stories260K-hf')).activeLeases).toBe(1);
    expect((await json(s.url + routeReleasePath(b.leaseId), { body: { leaseSecret: b.leaseSecret } })).body).toMatchObject({ kind: 'released' });
    expect((await swarmState(s, 'stories260K-hf')).activeLeases).toBe(0);
    expect((await swarmState(s)).activeLeases).toBe(1);
    const again = await json(s.url + routeReleasePath(b.leaseId), { body: { leaseSecret: b.leaseSecret } });
    expect(errorCode(again.body)).toBe('unknown-lease');
    expect(errorCode((await json(s.url + routeRenewPath('no-such-lease'), { body: { leaseSecret: 'x' } })).body)).toBe('unknown-lease');
  });

  it('queues a request for a model whose volunteer is still loading at that model\'s coordinator; the ticket poll gets the route once it is ready', async () => {
    const s = await start();
    await join(s, 'a1', 'stories260K');
    await settled(s);
    const loading = await TestVolunteer.join(s.url, { peerId: 'b1', memoryBytes: budget(5, 8), modelId: 'stories260K-hf', autoReady: false });
    volunteers.push(loading);
    const assignment = await loading.assignment();
    await s.models.get('stories260K-hf').coordinator.whenSettled();
    const r = await json(s.url + apiPaths.routes, { body: { clientId: 'c', promptTokens: 4, maxNewTokens: 8, modelId: 'stories260K-hf' } });
    const queued = parseRouteResponse(r.body);
    if (!queued.ok || queued.value.kind !== 'queued') throw new Error(`expected queued, got ${JSON.stringify(r.body)}`);
    expect((await swarmState(s, 'stories260K-hf')).queueLength).toBe(1);
    expect((await swarmState(s)).queueLength).toBe(0);
    const poll = json(`${s.url}${routeTicketPath(queued.value.ticketId)}?waitMs=5000`);
    loading.ready(assignment);
    const answer = await poll;
    expect(answer.body).toMatchObject({ kind: 'route', modelId: 'stories260K-hf', chain: [{ peerId: 'b1' }] });
    expect(errorCode((await json(`${s.url}${routeTicketPath('no-such-ticket')}`)).body)).toBe('unknown-ticket');
  });

  it('refuses a model it does not serve with model-mismatch: routes, swarm state, policy switch, volunteers (socket closed 4001), dashboards', async () => {
    const s = await start();
    const r = await json(s.url + apiPaths.routes, { body: { clientId: 'c', promptTokens: 4, maxNewTokens: 8, modelId: 'llama-70b' } });
    expect(errorCode(r.body)).toBe('model-mismatch');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(errorCode((await json(s.url + withModelId(apiPaths.swarm, 'llama-70b'))).body)).toBe('model-mismatch');
    expect(errorCode((await json(s.url + apiPaths.placementPolicy, { body: { policy: 'petals', modelId: 'llama-70b' }, headers: adminHeaders(s) })).body)).toBe('model-mismatch');
    expect(errorCode((await json(`${s.url}${apiPaths.swarm}?modelId=${'x'.repeat(300)}`)).body)).toBe('bad-request');
    await expect(TestVolunteer.join(s.url, { peerId: 'w', memoryBytes: budget(5, 5), modelId: 'llama-70b' })).rejects.toThrow(/model-mismatch/);
    const ws = new WebSocket(s.url.replace(/^http/, 'ws') + withModelId(apiPaths.dashboardSocket, 'llama-70b'));
    ws.on('error', () => undefined); // the refused upgrade
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve(101));
    });
    expect(status).toBe(404);
    // Nothing of it reached either model.
    expect((await swarmState(s)).volunteers).toEqual([]);
    expect((await swarmState(s, 'stories260K-hf')).volunteers).toEqual([]);
  });

  it('a dashboard socket with ?modelId= gets that model\'s snapshot and only its events', async () => {
    const s = await start();
    const ws = new WebSocket(s.url.replace(/^http/, 'ws') + withModelId(apiPaths.dashboardSocket, 'stories260K-hf'));
    const got: DashboardMessage[] = [];
    ws.on('message', (d: WebSocket.RawData) => {
      const parsed = parseDashboardMessage(JSON.parse((Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d as Buffer)).toString('utf8')));
      if (parsed.ok) got.push(parsed.value);
    });
    await until(() => got.length > 0, 5000, 'snapshot');
    expect(got[0]?.type === 'snapshot' && got[0].state.model.id).toBe('stories260K-hf');
    await join(s, 'a1', 'stories260K');
    await join(s, 'b1', 'stories260K-hf');
    await until(() => got.some((m) => m.type === 'event' && m.event.type === 'volunteer-joined'), 5000, 'join event');
    await settled(s);
    const joined = got.flatMap((m) => (m.type === 'event' && m.event.type === 'volunteer-joined' ? [m.event.volunteer.peerId] : []));
    expect(joined).toEqual(['b1']);
    ws.close();
  });

  it('switches the placement policy of one model only', async () => {
    const s = await start([llama2c, hf], { policy: 'bprr' }); // BPRR pinned: the untouched model keeps it
    const r = await json(s.url + apiPaths.placementPolicy, { body: { policy: 'petals', modelId: 'stories260K-hf' }, headers: adminHeaders(s) });
    expect(r.body).toMatchObject({ kind: 'placement-policy', placement: { policy: 'petals' } });
    expect((await swarmState(s, 'stories260K-hf')).placement.policy).toBe('petals');
    expect((await swarmState(s)).placement.policy).toBe('bprr');
  });

  it('lists the models with their coverage and suggests the one that needs volunteers most', async () => {
    // BPRR pinned: it gives both of b1, b2 a span (replicas); GBP-CR's chains under bouquet may leave one idle at this load.
    const s = await start([llama2c, hf], { policy: 'bprr' });
    let list = await models(s);
    expect(list.defaultModelId).toBe('stories260K');
    expect(list.models.map((m) => [m.model.id, m.volunteers, m.fullyServed, m.minReplicas])).toEqual([['stories260K', 0, false, 0], ['stories260K-hf', 0, false, 0]]);
    expect(list.suggestedModelId).toBe('stories260K'); // a tie: the first
    await join(s, 'a1', 'stories260K');
    await settled(s);
    list = await models(s);
    expect(list.models[0]).toMatchObject({ volunteers: 1, servedBlocks: 5, fullyServed: true, minReplicas: 1, uncoveredBlocks: [] });
    expect(list.suggestedModelId).toBe('stories260K-hf');
    // The second model gets two volunteers (each able to hold it all): now the first needs blocks most.
    await join(s, 'b1', 'stories260K-hf');
    await join(s, 'b2', 'stories260K-hf');
    await settled(s);
    list = await models(s);
    expect(list.models[1]).toMatchObject({ volunteers: 2, fullyServed: true });
    expect(list.models[1]?.meanReplicas).toBeGreaterThan(list.models[0]?.meanReplicas ?? Infinity);
    expect(list.suggestedModelId).toBe('stories260K');
  });

  it('refuses two models served under one id, and a single model keeps today\'s answers', async () => {
    await expect(start([llama2c, llama2c])).rejects.toMatchObject({ code: 'bad-model' });
    const s = await start([llama2c]);
    expect(s.models.ids).toEqual(['stories260K']);
    const list = await models(s);
    expect(list.models.map((m) => m.model.id)).toEqual(['stories260K']);
    expect(list.suggestedModelId).toBe('stories260K');
  });
});
