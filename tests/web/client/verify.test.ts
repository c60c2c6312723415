// Verified results in one process (stories260K, in-thread runtimes, in-memory transport): honest volunteers on different graphs always agree,
// a volunteer that flips greedy tokens is caught, banned on the recomputed evidence and the answer stays right; a client's tampered evidence bans no one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, fromBase64url, type VerifyEvidence, type VerifyVerdict } from '../../../core/api/index.ts';
import { mulberry32 } from '../../../core/random/index.ts';
import { lyingRuntime } from '../../../tools/bench/lying-volunteer.ts';
import { CheckedRoutes, VerifySwarm } from '../../../tools/bench/verify-swarm.ts';

const prompt = 'Once upon a time';
let swarm: VerifySwarm;

beforeAll(async () => {
  swarm = await VerifySwarm.open('../shared/models/stories260K');
});

afterAll(async () => {
  await swarm.close();
});

describe('verified results (in-process swarm on stories260K)', () => {
  it('honest volunteers on contrib and standard-ops graphs agree on every checked step, and the text is unchanged', async () => {
    swarm.volunteers.length = 0; // each case routes over its own volunteers (the bans stay)
    const a = await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'contrib'));
    const b = await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'standard'));
    const plain = await swarm.generate(new CheckedRoutes(swarm, 0), prompt, 40, mulberry32(1));
    const routes = new CheckedRoutes(swarm, 1);
    const checked = await swarm.generate(routes, prompt, 40, mulberry32(1));
    expect(checked.ids).toEqual(plain.ids);
    expect(checked.verification?.compared).toBe(39); // every decode step (the first token comes from the prefill)
    expect(checked.verification?.mismatches).toBe(0);
    expect(checked.verification?.maxAgreedRelDiff).toBeLessThan(2e-5);
    expect(routes.verdicts).toEqual([]);
    expect(plain.verification?.compared).toBe(0);
    expect(swarm.volunteers).toEqual([a, b]);
  }, 120_000);

  it('a volunteer adding the smallest flipping perturbation is caught, banned on the recomputed evidence, and the answer is the honest one', async () => {
    swarm.volunteers.length = 0; // each case routes over its own volunteers (the bans stay)
    const honest = await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'standard'));
    const honestRun = await swarm.generate(new CheckedRoutes(swarm, 0), prompt, 32, mulberry32(2));
    const lies: number[] = [];
    const liar = await swarm.volunteer(lyingRuntime(await swarm.runtime(), { share: 0.3, random: mulberry32(7), aim: swarm.clientRuntime, onLie: (l) => lies.push(l.maxRel) }));
    // The liar first on the route, the honest volunteer its checker.
    const routes = new CheckedRoutes(swarm, 1, () => 0.99);
    const r = await swarm.generate(routes, prompt, 32, mulberry32(2));
    expect(lies.length).toBeGreaterThan(0);
    expect(r.ids).toEqual(honestRun.ids);
    expect(r.verification?.bannedPeerIds).toEqual([liar.peerId]);
    expect(r.failovers.map((f) => [f.failedPeer, f.code, f.banned])).toEqual([[liar.peerId, 'wrong-result', true]]);
    expect(routes.verdicts.map((v) => [v.outcome, v.bannedPeerIds])).toEqual([['banned', [liar.peerId]]]);
    expect(swarm.bans.has(liar.peerId)).toBe(true);
    expect(swarm.bans.has(honest.peerId)).toBe(false);
  }, 120_000);

  it('a client that tampers with honest evidence (inputs, outputs, a key) gets no one banned', async () => {
    swarm.volunteers.length = 0; // each case routes over its own volunteers (the bans stay)
    const honest = await swarm.volunteer(await swarm.runtime());
    const liar = await swarm.volunteer(lyingRuntime(await swarm.runtime(), { share: 1, random: () => 0, aim: swarm.clientRuntime }));
    // The honest volunteer on the route, the liar its checker: the liar is the one banned.
    const routes = new CheckedRoutes(swarm, 1, () => 0);
    await swarm.generate(routes, prompt, 8, mulberry32(3));
    expect(routes.verdicts[0]?.bannedPeerIds).toEqual([liar.peerId]);
    const e = routes.evidence[0];
    const honestClaim = e?.claims.find((c) => c.peerId === honest.peerId);
    const liarClaim = e?.claims.find((c) => c.peerId === liar.peerId);
    if (e === undefined || honestClaim === undefined || liarClaim === undefined) throw new Error('no evidence');
    const judge = (x: VerifyEvidence): Promise<VerifyVerdict> => swarm.judge(x);
    const flip = (text: string, at: number): string => {
      const b = fromBase64url(text) ?? new Uint8Array();
      b[at] = (b[at] ?? 0) ^ 0x40;
      return base64url(b);
    };
    const outputChanged = { ...e, claims: [{ ...honestClaim, output: flip(honestClaim.output, 3) }, liarClaim] };
    const inputsChanged = { ...e, inputs: flip(e.inputs, 10) };
    const otherKey = { ...e, claims: [{ ...honestClaim, publicKey: liar.publicKey }, liarClaim] };
    const partitionChanged = { ...e, claims: [{ ...honestClaim, stepRows: [honestClaim.stepRows.reduce((x, y) => x + y, 0) - 1, 1] }, liarClaim] };
    for (const x of [outputChanged, inputsChanged, otherKey, partitionChanged]) {
      const v = await judge(x);
      expect(v.bannedPeerIds).not.toContain(honest.peerId);
    }
    expect((await judge({ ...outputChanged, claims: [{ ...honestClaim, output: flip(honestClaim.output, 3) }, { ...liarClaim, signature: honestClaim.signature }] })).outcome).toBe('unproven');
    // Untampered, the honest claim alone: recomputed, it is right.
    expect((await judge({ ...e, claims: [honestClaim, { ...liarClaim, signature: honestClaim.signature }] })).outcome).toBe('no-fault');
  }, 120_000);
});
