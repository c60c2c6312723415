// Each OpenAI API caller is a client of its own at the coordinator: with a per-client cap of one lease, a key that holds its lease is refused a
// second answer (429 over-quota) while another key is still served, and the swarm state shows both callers' client ids (a real server, the real
// Node swarm client and a Node volunteer over WebRTC on loopback; the volunteer holds the first key's session until the test lets it go).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPaths, type SwarmState } from '../../core/api/index.ts';
import { createServer, type BouquetServer } from '../../server/index.ts';
import { DiskKeyStore, startNodeClient, startNodeVolunteer, type NodeVolunteer } from '../../tools/node-peer/index.ts';
import type { RuntimeStarter } from '../../web/volunteer/index.ts';
import type { BlockRuntime } from '../../worker/index.ts';
import { generateReference, servingAll, stories260K, until } from './swarm-support.ts';

const heavyKey = 'heavy-key-0123456789abcdef';
const lightKey = 'light-key-0123456789abcdef';
const prompt = 'Once upon a time';
const maxTokens = 20;

/** A runtime starter whose runtimes hold every step of the next session opened (once `holdNext` is set) until `release`. */
function holdingStarter(): { wrap: (plain: RuntimeStarter) => RuntimeStarter; holdNext: () => void; held: () => string | undefined; release: () => void } {
  let arm = false;
  let held: string | undefined;
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const hold = (rt: BlockRuntime): BlockRuntime => new Proxy(rt, {
    get(target, prop, receiver) {
      if (prop === 'openSession') {
        return (req: Parameters<BlockRuntime['openSession']>[0]) => {
          if (arm) {
            arm = false;
            held = req.sessionId;
          }
          return target.openSession(req);
        };
      }
      if (prop === 'step') {
        return async (sessionId: string, hidden: Float32Array) => {
          if (sessionId === held) await gate;
          return target.step(sessionId, hidden);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    wrap: (plain) => ({
      measureSpeed: () => plain.measureSpeed(),
      load: async (span, slots, tokens, onPhase) => hold(await plain.load(span, slots, tokens, onPhase)),
      unload: () => plain.unload(),
    }),
    holdNext: () => { arm = true; },
    held: () => held,
    release: () => release(),
  };
}

const complete = (url: string, key: string) => fetch(`${url}/v1/completions`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'stories260K', prompt, max_tokens: maxTokens, temperature: 0 }),
});

describe('OpenAI API callers as clients of their own (serve in process, a Node volunteer, the Node swarm client)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-openai-callers-'));
  let server: BouquetServer;
  let volunteer: NodeVolunteer | undefined;
  const holding = holdingStarter();
  const state = async (): Promise<SwarmState> => (await (await fetch(`${server.url}${apiPaths.swarm}`)).json()) as SwarmState;

  let reference: { text: string; ids: number[] };

  beforeAll(async () => {
    // Before anything runs in this process: generateReference waits for its child synchronously.
    reference = generateReference(prompt, maxTokens);
    server = await createServer({
      port: 0, model: stories260K, logger: 'silent', modelSizing: { maxSessionTokens: 128 },
      // One lease per client id: the cap a heavy caller reaches at once. No verified-results checks (one volunteer, no twin).
      coordinator: { placementDelayMs: 5, fairUse: { maxLeasesPerClient: 1 }, verify: { share: 0, probationShare: 0 } },
      openai: { client: (origin, modelId) => startNodeClient({ origin, modelId }), apiKeys: [heavyKey, lightKey], rateLimit: { perSecond: 50, burst: 50 } },
    });
    volunteer = await startNodeVolunteer({
      origin: server.url, memoryBytes: 16 * 1024 * 1024, keyStore: new DiskKeyStore(path.join(dir, 'v')),
      fixedSpeed: { decodeMsPerBlock: 0.5, prefillMsPerBlock: { fixedMs: 0.5, perTokenMs: 0.05 } }, wrapRuntime: holding.wrap,
    });
    await until('the volunteer to serve every block', async () => servingAll(await state(), 1), 60_000);
  }, 120_000);

  afterAll(async () => {
    holding.release();
    await volunteer?.leave(0).catch(() => undefined);
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('a key at its cap is refused, another key is still served, and both appear as client ids of their own', async () => {
    holding.holdNext();
    const heavyFirst = complete(server.url, heavyKey);
    await until('the heavy key\'s session to be open (its lease held)', () => Promise.resolve(holding.held() !== undefined), 30_000);

    const heavySecond = await complete(server.url, heavyKey);
    expect(heavySecond.status).toBe(429);
    expect(await heavySecond.json()).toMatchObject({ error: { code: 'over-quota' } });

    const light = await complete(server.url, lightKey);
    expect(light.status).toBe(200);
    expect(((await light.json()) as { choices: { text: string }[] }).choices[0]?.text).toBe(reference.text);

    holding.release();
    const heavy = await heavyFirst;
    expect(heavy.status).toBe(200);
    expect(((await heavy.json()) as { choices: { text: string }[] }).choices[0]?.text).toBe(reference.text);

    // The dashboard's rows: one client id per key (`key-<keyId>-<random>`), each with its own routes.
    const clients = new Set((await state()).recentRoutes.map((r) => r.clientId));
    const perKey = [...clients].filter((c) => /^key-[0-9a-f]{12}-[0-9a-f]{8}$/.test(c));
    expect(perKey).toHaveLength(2);
    expect(new Set(perKey.map((c) => c.slice(0, 16))).size).toBe(2);
  }, 90_000);
});
