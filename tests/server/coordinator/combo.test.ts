// The live coordinator runs a policy combo exactly as the simulator does: placement + routing with their options, admission, rebalancing.
import { afterEach, describe, expect, it } from 'vitest';
import { apiPaths, type RouteResponse } from '../../../core/api/index.ts';
import { policyCombos, serveCombo } from '../../../core/policies/index.ts';
import { parseScenario } from '../../../sim/index.ts';
import type { BouquetServer, ServerOptions } from '../../../server/index.ts';
import { budget, json, TestServers, until } from '../helpers.ts';
import { askRoute } from '../swarm-api.ts';

const swarmOf = new TestServers({ coordinator: { keyBoundPeerIds: false, heartbeatTimeoutMs: 600_000 } });
afterEach(() => swarmOf.cleanUp());

/** A server running `options`, with one slow volunteer holding the whole model and five 512-token slots (sessions outlast the test). */
async function oneVolunteer(options: Partial<ServerOptions>): Promise<BouquetServer> {
  const s = await swarmOf.start(options);
  await swarmOf.join(s, { peerId: 'only', memoryBytes: budget(5, 5), decodeMsPerBlock: 1000 });
  await s.coordinator.whenSettled();
  await until(() => s.coordinator.state().volunteers.every((v) => v.state === 'serving'), 5000, 'volunteer serving');
  return s;
}

function route(s: BouquetServer, clientId: string): Promise<RouteResponse> {
  return askRoute(s, { clientId, promptTokens: 4, maxNewTokens: 8 });
}

/** How many of `n` short sessions, asked one after another, are granted now (the rest queue). */
async function grantedOf(s: BouquetServer, n: number): Promise<number> {
  let granted = 0;
  for (let i = 0; i < n; i++) if ((await route(s, `c${i}`)).kind === 'route') granted++;
  return granted;
}

async function exportedLive(s: BouquetServer): Promise<unknown> {
  const r = await json(`${s.url}${apiPaths.scenario}?requests=10`);
  expect(r.status).toBe(200);
  return (r.body as { policies: { live: unknown } }).policies.live;
}

describe('the live coordinator runs the combo as the simulator does', () => {
  it("routes with the combo's routing options: followup-declared's JFFC counts free cache, plain JFFC sessions", async () => {
    // Both book declared lengths (4 + 8 tokens: one 16-token block of a 512-token slot per block).
    // followup-declared's JFFC (`jffcFreeBy: 'cache'`) sees the room a short session leaves; JFFC with
    // the paper's rule admits at most c_k sessions on the chain however little cache they hold.
    const ablation = await oneVolunteer({ policy: 'followup-declared' });
    expect(await grantedOf(ablation, 8)).toBe(8);
    const plain = await oneVolunteer({ policy: 'followup', coordinator: { cacheReservation: 'declared' } });
    const plainGranted = await grantedOf(plain, 8);
    expect(plainGranted).toBeGreaterThan(0);
    expect(plainGranted).toBeLessThan(8);
  });

  it('hands the whole combo (options, admission, retune, rebalance) to the simulator, and an overridden part drops its options', async () => {
    const s = await oneVolunteer({ policy: 'bouquet' });
    // Bouquet, every field of it.
    expect(await exportedLive(s)).toEqual(policyCombos.bouquet);
    const back = parseScenario({ ...((await json(`${s.url}${apiPaths.scenario}?requests=10`)).body as object) });
    expect(back.policies.live).toEqual(policyCombos.bouquet);
    // The planned workload carries the mean declared length under admission by declared length.
    expect((await route(s, 'a')).kind).toBe('route');
    expect(s.coordinator.planningSnapshot().workload.meanDeclaredTokens).toBe(12);

    const overridden = await oneVolunteer({ policy: 'followup-declared', routing: 'ws-rr' });
    expect(await exportedLive(overridden)).toEqual({ placement: 'gbp-cr', routing: 'ws-rr', reservation: 'declared' });
    // The default is bouquet.
    expect(await exportedLive(await oneVolunteer({}))).toEqual(policyCombos.bouquet);
    const bprr = await oneVolunteer({ policy: 'bprr' });
    expect(await exportedLive(bprr)).toEqual({ placement: 'bprr', routing: 'ws-rr' });
    // Whole-slot admission plans no declared length.
    expect(bprr.coordinator.planningSnapshot().workload.meanDeclaredTokens).toBeUndefined();
  });

  it('serveCombo keeps the combo, overrides a part with its options dropped, and refuses unknown names with unknown-policy', () => {
    expect(serveCombo('followup-declared')).toEqual(policyCombos['followup-declared']);
    expect(serveCombo('followup-declared', { routing: 'jffc' })).toEqual(policyCombos['followup-declared']);
    expect(serveCombo('bouquet', { placement: 'bprr' })).toEqual({ ...policyCombos.bouquet, placement: 'bprr' });
    expect(() => serveCombo('bouquet', { routing: 'nope' })).toThrow(expect.objectContaining({ code: 'unknown-policy' }));
    expect(() => serveCombo('nope')).toThrow(expect.objectContaining({ code: 'unknown-policy' }));
  });
});
