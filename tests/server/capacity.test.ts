// A swarm whose volunteers' memory cannot hold the model: the coordinator says so at once, with the numbers, on the API.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type BouquetServer } from '../../server/index.ts';
import { stories260K, TestVolunteer, until } from './helpers.ts';

const servers: BouquetServer[] = [];
const volunteers: TestVolunteer[] = [];
afterEach(async () => {
  await Promise.all(volunteers.splice(0).map((v) => v.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('a model the volunteers cannot hold', () => {
  it('placement.error is infeasible with the blocks they can hold, and a volunteer that joins with enough memory clears it', async () => {
    // A whole-slot policy: bouquet (the default) would plan these volunteers in declared-length sessions, where
    // three blocks fit beside a short session each (tests/server/coordinator/session-units.test.ts).
    const s = await createServer({ port: 0, model: stories260K, logger: 'silent', policy: 'followup', coordinator: { placementDelayMs: 5, keyBoundPeerIds: false } });
    servers.push(s);
    const { blockBytes, cacheBytesPerBlock, numBlocks } = s.model.info;
    // Two volunteers with room for 2 blocks and one session each: 4 of 5 blocks.
    for (const peerId of ['a', 'b']) volunteers.push(await TestVolunteer.join(s.url, { peerId, memoryBytes: 2 * (blockBytes + cacheBytesPerBlock) }));
    // The first join alone gets an error too (2 blocks); wait for the placement that saw both.
    await until(() => s.coordinator.state().placement.error?.data?.holdableBlocks === 4, 5000, 'the placement error for both volunteers');
    const error = s.coordinator.state().placement.error;
    expect(error?.code).toBe('infeasible');
    expect(error?.data).toMatchObject({ holdableBlocks: 4, numBlocks });
    // A third with room for one block: the swarm can hold the model, the error goes.
    volunteers.push(await TestVolunteer.join(s.url, { peerId: 'c', memoryBytes: blockBytes + cacheBytesPerBlock }));
    await until(() => s.coordinator.state().placement.error === undefined && s.coordinator.state().placement.uncoveredBlocks.length === 0, 5000, 'a placement that covers the model');
  });
});
