// GET /api/scenario: the live swarm exported as a scenario that `bouquet sim --from` replays, with each client's measured RTTs.
import { afterEach, describe, expect, it } from 'vitest';
import { apiPaths } from '../../core/api/index.ts';
import { parseScenario } from '../../sim/index.ts';
import { createServer, maxScenarioClients, swarmScenario, type BouquetServer } from '../../server/index.ts';
import { run as sim } from '../../tools/cli/sim.ts';
import { capture } from '../tools/cli/cli-capture.ts';
import { json, stories260K, TestVolunteer, until } from './helpers.ts';

const blockBytes = 181_760;
const cacheBytesPerBlock = 131_072;
const budget = (blocks: number, slots: number): number => blocks * blockBytes + slots * cacheBytesPerBlock;

const servers: BouquetServer[] = [];
const volunteers: TestVolunteer[] = [];
afterEach(async () => {
  await Promise.all(volunteers.splice(0).map((v) => v.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function swarmOfTwo(): Promise<BouquetServer> {
  const s = await createServer({ port: 0, model: stories260K, logger: 'silent', coordinator: { placementDelayMs: 5, workload: { concurrentRequests: 1 }, keyBoundPeerIds: false } });
  servers.push(s);
  for (const [peerId, decodeMsPerBlock] of [['p', 2], ['q', 3]] as const) {
    volunteers.push(await TestVolunteer.join(s.url, { peerId, memoryBytes: budget(5, 4), decodeMsPerBlock }));
    await s.coordinator.whenSettled();
  }
  await until(() => s.coordinator.state().volunteers.every((v) => v.state === 'serving'), 5000, 'volunteers serving');
  return s;
}

describe('GET /api/scenario', () => {
  it('exports volunteers, each client\'s reported RTTs and the policies in force, and bouquet sim --from replays it', async () => {
    const s = await swarmOfTwo();
    for (const [clientId, rttMs] of [['near', { p: 5, q: 40 }], ['far', { p: 90, q: 120 }]] as const) {
      // Granted or queued: either way the coordinator records the RTTs the client measured.
      const r = await json(s.url + apiPaths.routes, { body: { clientId, promptTokens: 8, maxNewTokens: 8, rttMs } });
      expect([200, 202]).toContain(r.status);
    }
    const r = await json(`${s.url}${apiPaths.scenario}?requests=20`);
    expect(r.status).toBe(200);
    const scenario = parseScenario(r.body);
    expect(scenario.snapshot.servers.map((v) => v.id).sort()).toEqual(['p', 'q']);
    expect(scenario.snapshot.network.clientServerRttMs).toEqual({ near: { p: 5, q: 40 }, far: { p: 90, q: 120 } });
    expect(scenario.compare).toEqual(['live']);
    expect(scenario.arrivals).toMatchObject({ process: 'poisson', count: 20 });

    const out = await capture(sim, ['--from', `${s.url}${apiPaths.scenario}?requests=20`, '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout) as { policyName: string; metrics: { finished: number; requests: number; perTokenMs: { mean: number } } };
    expect(result.policyName).toBe('live');
    expect(result.metrics.requests).toBe(20);
    expect(result.metrics.finished).toBe(20);
    // Per-token time includes the clients' RTTs: at least the near client's lowest RTT over the chain.
    expect(result.metrics.perTokenMs.mean).toBeGreaterThan(5);
  });

  it('answers bad input and an empty swarm with coded errors; sim --from an unreachable source is a user error', async () => {
    const s = await createServer({ port: 0, model: stories260K, logger: 'silent' });
    servers.push(s);
    const empty = await json(s.url + apiPaths.scenario);
    expect((empty.body as { error: { code: string } }).error.code).toBe('no-route');
    const bad = await json(`${s.url}${apiPaths.scenario}?requests=0`);
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { code: string } }).error.code).toBe('bad-request');
    const wrongModel = await json(`${s.url}${apiPaths.scenario}?modelId=nope`);
    expect((wrongModel.body as { error: { code: string } }).error.code).toBe('model-mismatch');
    const out = await capture(sim, ['--from', `${s.url}${apiPaths.scenario}`]);
    expect(out.code).toBe(2);
    const both = await capture(sim, ['--from', `${s.url}${apiPaths.scenario}`, '--scenario', 'x.json']);
    expect(both.code).toBe(2);
  });

  it('lists at most maxScenarioClients clients, those that measured the most volunteers', () => {
    const servers = ['a', 'b'].map((id) => ({ id, memoryBytes: 1e9, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 } }));
    const clientRttsMs: Record<string, Record<string, number>> = {};
    for (let i = 0; i < 100; i++) clientRttsMs[`c${i}`] = i < 10 ? { a: 10, b: 20 } : { a: 30 };
    const doc = swarmScenario({
      snapshot: {
        model: { numBlocks: 4, blockBytes: 1e6, cacheBytesPerBlock: 1e5 }, servers, clients: [{ id: 't' }],
        network: { clientServerRttMs: { t: { a: 50, b: 50 } }, messageOverheadMs: 1, prefillOverheadMs: { perTokenMs: 0, fixedMs: 1 } },
        workload: { arrivalRatePerS: 1, meanInputTokens: 8, meanOutputTokens: 8 },
      },
      clientRttsMs, placementPolicy: 'gbp-cr', routingPolicy: 'jffc',
    }, 'capped', 10);
    const scenario = parseScenario(doc);
    expect(scenario.snapshot.clients).toHaveLength(maxScenarioClients);
    // The ten that measured both volunteers are all in; a client's missing volunteer gets the typical RTT.
    for (let i = 0; i < 10; i++) expect(scenario.snapshot.network.clientServerRttMs[`c${i}`]).toEqual({ a: 10, b: 20 });
    expect(scenario.snapshot.network.clientServerRttMs.c10).toEqual({ a: 30, b: 50 });
  });
});
