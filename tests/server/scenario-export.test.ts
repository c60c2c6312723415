// GET /api/scenario: the live swarm exported as a scenario that `bouquet sim --from` replays, with each client's measured RTTs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiPaths, routeReleasePath, type RouteGranted } from '../../core/api/index.ts';
import { parseScenario } from '../../sim/index.ts';
import { maxScenarioClients, swarmScenario, type BouquetServer } from '../../server/index.ts';
import { run as sim } from '../../tools/cli/sim.ts';
import { capture } from '../tools/cli/cli-capture.ts';
import { budget, json, TestServers, until } from './helpers.ts';

/** Writes a scenario document to a temporary file (removed after the test), returning its path. */
async function writeTemp(doc: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bouquet-export-'));
  temps.push(dir);
  const file = path.join(dir, 'scenario.json');
  await writeFile(file, JSON.stringify(doc));
  return file;
}
const temps: string[] = [];
afterEach(async () => {
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

const swarmOf = new TestServers({ coordinator: { keyBoundPeerIds: false } });
afterEach(() => swarmOf.cleanUp());

async function swarmOfTwo(): Promise<BouquetServer> {
  const s = await swarmOf.start();
  for (const [peerId, decodeMsPerBlock] of [['p', 2], ['q', 3]] as const) {
    await swarmOf.join(s, { peerId, memoryBytes: budget(5, 4), decodeMsPerBlock });
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

  it('exports the per-message and prefill overheads and each client\'s own per-token work fitted from released leases, which the simulator prices', async () => {
    const s = await swarmOfTwo();
    const truth = { overheadMs: 6, prefillFixedMs: 12 };
    const clients = { near: { rttMs: { p: 5, q: 40 }, clientMs: 3 }, far: { rttMs: { p: 90, q: 120 }, clientMs: 11 } };
    const claimedMs = { p: 2, q: 3 } as Record<string, number>;
    for (let round = 0; round < 3; round++) {
      for (const [clientId, c] of Object.entries(clients)) {
        const r = await json(s.url + apiPaths.routes, { body: { clientId, promptTokens: 8, maxNewTokens: 16, rttMs: c.rttMs } });
        expect(r.status).toBe(200);
        const g = r.body as RouteGranted;
        // What this chain takes on a swarm whose truth is the overheads above (the volunteers as fast as they claim).
        const rtt = (id: string): number => c.rttMs[id as 'p' | 'q'];
        const decodeMs = g.chain.reduce((a, h) => a + rtt(h.peerId) + truth.overheadMs + (h.span.end - h.span.start) * (claimedMs[h.peerId] ?? 0), 0) + c.clientMs;
        const firstMs = g.chain.reduce((a, h) => a + rtt(h.peerId) + truth.prefillFixedMs + 0.01 * 8 + (h.span.end - h.span.start) * (0.05 * 8 + 1), 0) + c.clientMs;
        const measured = { totalMs: firstMs + 15 * decodeMs, tokens: 16, firstTokenMs: firstMs, clientMsPerToken: c.clientMs };
        expect((await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret, measured } })).status).toBe(200);
      }
    }
    // A client's own term is bounded by the message's bounds: a day per token is refused, naming the field.
    const g = (await json(s.url + apiPaths.routes, { body: { clientId: 'liar', promptTokens: 8, maxNewTokens: 16 } })).body as RouteGranted;
    const refused = await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret, measured: { totalMs: 100, tokens: 16, firstTokenMs: 10, clientMsPerToken: 86_400_000 } } });
    expect(refused.status).toBe(400);
    expect((refused.body as { error: { code: string; field?: string } }).error).toMatchObject({ code: 'bad-request', field: 'measured.clientMsPerToken' });

    const r = await json(`${s.url}${apiPaths.scenario}?requests=20`);
    const scenario = parseScenario(r.body);
    expect(scenario.snapshot.network.messageOverheadMs).toBeCloseTo(truth.overheadMs, 6);
    expect(scenario.snapshot.network.prefillOverheadMs.fixedMs).toBeCloseTo(truth.prefillFixedMs, 6);
    expect(scenario.snapshot.network.clientMsPerToken).toEqual({ near: 3, far: 11 });
    // The planner's snapshot for a request prices its own client's term, and only its own.
    expect(s.coordinator.planningSnapshot().network.clientMsPerToken).toBeUndefined();
    // The simulator prices them: the far client's term and the fitted overheads make it slower than without them.
    const without = { ...(r.body as Record<string, unknown>), network: { ...((r.body as { network: Record<string, unknown> }).network), messageOverheadMs: 1, clientMsPerToken: undefined } };
    const simOf = async (doc: unknown): Promise<number> => {
      const file = await writeTemp(doc);
      const out = await capture(sim, ['--from', file, '--json']);
      expect(out.code, out.stderr).toBe(0);
      return (JSON.parse(out.stdout) as { metrics: { perTokenMs: { mean: number } } }).metrics.perTokenMs.mean;
    };
    expect(await simOf(r.body)).toBeGreaterThan(await simOf(without));
  });

  it('answers bad input and an empty swarm with coded errors; sim --from an unreachable source is a user error', async () => {
    // No volunteer at all.
    const s = await swarmOf.start({ coordinator: {} });
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
  it('exports a swarm whose recent requests had a fractional mean output as a scenario the simulator accepts', () => {
    const servers = [{ id: 'a', memoryBytes: 1e9, decodeMsPerBlock: 2, prefillMsPerBlock: { perTokenMs: 0.1, fixedMs: 1 } }];
    const doc = swarmScenario({
      snapshot: {
        model: { numBlocks: 4, blockBytes: 1e6, cacheBytesPerBlock: 1e5 }, servers, clients: [{ id: 't' }],
        network: { clientServerRttMs: { t: { a: 5 } }, messageOverheadMs: 1, prefillOverheadMs: { perTokenMs: 0, fixedMs: 1 } },
        // Chats of 8 and 48 tokens, two and one of them: a mean of 21.33.
        workload: { arrivalRatePerS: 0.5, meanInputTokens: 5.5, meanOutputTokens: 64 / 3 },
      },
      clientRttsMs: { c: { a: 12 } }, placementPolicy: 'bprr', routingPolicy: 'ws-rr',
    }, 'fractional', 10);
    const scenario = parseScenario(doc);
    expect(scenario.snapshot.workload.meanOutputTokens).toBe(21);
    expect(scenario.snapshot.network.clientServerRttMs.c).toEqual({ a: 12 });
  });
});
