// Verified results on a live swarm: `createServer` on loopback, three Node volunteers over real WebRTC (one lies on some decode steps), a Node
// client. The liar is caught, banned (gone from the swarm, its registration refused) and the answer is the honest text; a lying client bans no one.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPaths, base64url, type SwarmState, type VerifyEvidence } from '../../core/api/index.ts';
import { mulberry32 } from '../../core/random/index.ts';
import { createServer, folderModelFiles, type BouquetServer } from '../../server/index.ts';
import { DiskKeyStore, startNodeClient, startNodeVolunteer, type NodeClient, type NodeVolunteer } from '../../tools/node-peer/index.ts';
import { lyingStarter } from '../../tools/bench/lying-volunteer.ts';
import type { VerifyEvent } from '../../web/client/index.ts';
import { createInThreadRuntime, openModelWeights, type BlockRuntime } from '../../worker/index.ts';
import { NodeIdentity } from '../support/node-identity.ts';
import { generateReference, servingAll, stories260K, until } from './swarm-support.ts';

const prompt = 'Once upon a time';
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

describe('verified results on a live swarm (Node peers, real WebRTC)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-verify-'));
  let server: BouquetServer;
  let client: NodeClient;
  let aim: BlockRuntime;
  const volunteers: NodeVolunteer[] = [];
  let liar: NodeVolunteer;
  const state = async (): Promise<SwarmState> => (await (await fetch(`${server.url}${apiPaths.swarm}`)).json()) as SwarmState;

  beforeAll(async () => {
    // Every hop checked on every decode step here (the default is 5%, 25% on probation): the test needs no luck.
    // The default policy (bouquet): a check needs a twin holding the same blocks, which its spare spans give.
    server = await createServer({
      port: 0, model: stories260K, logger: 'silent', modelSizing: { maxSessionTokens: 128 }, coordinator: { placementDelayMs: 5, verify: { share: 1, probationShare: 1 } },
    });
    const weights = await openModelWeights(folderModelFiles(stories260K));
    aim = await createInThreadRuntime(ort, weights, { client: true, backends: ['wasm'], threads: 1, maxSessionTokens: 128, cacheBudgetBytes: 1 << 20 });
    const fixedSpeed = { decodeMsPerBlock: 0.5, prefillMsPerBlock: { fixedMs: 0.5, perTokenMs: 0.05 } };
    // 16 MiB each: every volunteer holds all five blocks, so each is the other's twin.
    const join = (name: string, extra: Partial<Parameters<typeof startNodeVolunteer>[0]> = {}): Promise<NodeVolunteer> =>
      startNodeVolunteer({ origin: server.url, memoryBytes: 16 * 1024 * 1024, keyStore: new DiskKeyStore(path.join(dir, name)), fixedSpeed, ...extra });
    liar = await join('liar', { wrapRuntime: lyingStarter({ share: 0.5, random: mulberry32(5), aim }) });
    volunteers.push(liar, await join('honest-contrib'), await join('honest-standard', { ops: 'standard' }));
    await until('three volunteers serving every block', async () => servingAll(await state(), 3), 60_000);
    client = await startNodeClient({ origin: server.url });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    for (const v of volunteers) await v.leave(0).catch(() => undefined);
    await server?.close();
    await aim?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('catches the liar within a few requests, bans its key, and every answer is the honest greedy text', async () => {
    const reference = generateReference(prompt, 24);
    const events: VerifyEvent[] = [];
    const liarId = liar.transport.peerId;
    let requests = 0;
    for (; requests < 6 && !events.some((e) => e.kind === 'mismatch' && e.bannedPeerIds.includes(liarId)); requests++) {
      const r = await client.generate({ prompt, maxNewTokens: 24, sampling: greedy, seed: 1, onVerify: (e) => events.push(e) });
      expect(r.ids).toEqual(reference.ids.slice(0, 24));
    }
    expect(events.some((e) => e.kind === 'agreed')).toBe(true);
    const mismatches = events.filter((e) => e.kind === 'mismatch');
    expect(mismatches.length).toBeGreaterThan(0);
    // Every mismatch convicted the liar, never an honest volunteer.
    for (const m of mismatches) expect(m.kind === 'mismatch' && m.bannedPeerIds).toEqual([liarId]);
    console.info(`verify e2e: liar banned after ${requests} request(s), ${events.filter((e) => e.kind === 'agreed').length} agreeing checks`);
    // Gone from the swarm; its agent's re-registration is refused.
    await until('the liar removed', async () => !(await state()).volunteers.some((v) => v.peerId === liarId), 10_000);
    // Its agent registers again (the socket was closed on it): refused, 'banned'.
    await until('the liar\'s registration refused', () => Promise.resolve(liar.agent.snapshot.lastError?.includes('[banned]') === true), 15_000);
    expect((await state()).volunteers.map((v) => v.peerId)).not.toContain(liarId);
    expect((await state()).volunteers).toHaveLength(2);
    // After the ban the honest pair still answers, checked against each other.
    const after = await client.generate({ prompt, maxNewTokens: 24, sampling: greedy, seed: 1 });
    expect(after.ids).toEqual(reference.ids.slice(0, 24));
    expect(after.verification?.mismatches).toBe(0);
    expect(after.verification?.compared).toBeGreaterThan(0);
  }, 180_000);

  it('a lying client\'s evidence (forged claims against an honest volunteer) bans no one; bad bodies are coded errors; evidence is rate-limited', async () => {
    const honest = (await state()).volunteers[0];
    if (honest === undefined) throw new Error('no volunteer');
    const forger = NodeIdentity.create();
    const inputs = base64url(new Uint8Array(new Float32Array(64 * 3).fill(0.5).buffer));
    const output = base64url(new Uint8Array(new Float32Array(64).fill(9).buffer));
    const claim = { leaseId: '', sessionId: 's', stepRows: [2, 1], output };
    const evidence: VerifyEvidence = {
      clientId: 'liar-client', span: { start: 0, end: 5 }, dtype: 'fp32', inputs,
      claims: [
        // The honest volunteer's id with the forger's key and signature: not its key, so no evidence.
        { ...claim, peerId: honest.peerId, publicKey: forger.publicKey, signature: forger.sign('anything') },
        // Its id and its real registered key, but a signature it never made.
        { ...claim, peerId: forger.peerId, publicKey: forger.publicKey, signature: base64url(new Uint8Array(64)) },
      ],
    };
    const post = (body: unknown): Promise<Response> => fetch(`${server.url}${apiPaths.verifyEvidence}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const r = await post(evidence);
    expect(r.status).toBe(200);
    const verdict = (await r.json()) as { outcome: string; bannedPeerIds: string[] };
    expect(verdict.outcome).toBe('unproven');
    expect(verdict.bannedPeerIds).toEqual([]);
    expect((await state()).volunteers.map((v) => v.peerId)).toContain(honest.peerId);
    const bad = await post({ ...evidence, claims: [evidence.claims[0]] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('bad-request');
    // The client's bucket (burst 4) is spent: one more within the minute is refused.
    const codes: number[] = [];
    let body: unknown;
    for (let i = 0; i < 4; i++) {
      const x = await post(evidence);
      codes.push(x.status);
      body = await x.json();
    }
    expect(codes).toContain(429);
    expect((body as { error: { code: string } }).error.code).toBe('rate-limited');
  }, 60_000);
});
