// A swarm without a browser, as real processes on loopback: `bouquet serve`, three `bouquet volunteer`s and `bouquet chat` print
// `bouquet generate`'s greedy text; a volunteer process killed (SIGKILL) mid-answer still gives the same text; `demo` with Chromium hidden runs on Node peers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeClient, type NodeClient } from '../../tools/node-peer/index.ts';
import { activeRouteVictim, generateReference, repoRoot, startBouquet, stopBouquet, stories260K, until, type BouquetProcess } from './swarm-support.ts';

const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');
const prompt = 'Once upon a time';
// One `bouquet generate` run for all three tests: greedy ids of a shorter answer are a prefix of a longer one's.
let referenceCache: { text: string; ids: number[] } | undefined;
function reference(maxTokens: number): { text: string; ids: number[] } {
  referenceCache ??= generateReference(prompt, 40);
  const ids = referenceCache.ids.slice(0, maxTokens);
  expect(ids).toHaveLength(maxTokens);
  return { ids, text: referenceCache.text };
}
/** The answer's text: the reference's for the full 40 tokens, a prefix of it for fewer. */
function expectText(text: string, maxTokens: number): void {
  const ref = reference(maxTokens);
  if (maxTokens === 40) expect(text).toBe(ref.text);
  else expect(ref.text.startsWith(text) && text.length > 0).toBe(true);
}

interface SwarmStateLite {
  volunteers: { peerId: string; state: string; span: { start: number; end: number } | null; assignedSpan: unknown }[];
  placement: { uncoveredBlocks: number[] };
  recentRoutes: { clientId: string; outcome: string; chain: { peerId: string; span: { start: number; end: number } }[] }[];
}

describe('a Node swarm (bouquet serve + volunteer + chat processes)', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-node-swarm-'));
  let serve: BouquetProcess;
  let url = '';
  const volunteers: BouquetProcess[] = [];
  let client: NodeClient | undefined;
  const state = async (): Promise<SwarmStateLite> => (await (await fetch(`${url}/api/swarm`)).json()) as SwarmStateLite;
  const covered = async (n: number): Promise<boolean> => {
    const s = await state();
    return s.volunteers.length === n && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan))
      && s.placement.uncoveredBlocks.length === 0;
  };
  const peerIdOf = (p: BouquetProcess): string | undefined => /peer (\S+) serving/.exec(p.log())?.[1];

  beforeAll(async () => {
    // The default policy (bouquet): the kill-mid-answer test needs a second holder of the killed volunteer's blocks (its spare spans).
    serve = startBouquet(['serve', '--port', '0', '--model', stories260K, '--max-session-tokens', '128', '--state-dir', path.join(stateDir, 'server'), '--log-level', 'warn']);
    await until('bouquet serve to listen', () => Promise.resolve(/listening on (http:\/\/127\.0\.0\.1:\d+)/.test(serve.log())), 30_000);
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.log())?.[1] ?? '';
    // 0.65 MiB: three of the five 178 KiB blocks and a few sessions each, so routes span several volunteers and every block is held twice.
    for (let i = 0; i < 3; i++) {
      volunteers.push(startBouquet(['volunteer', '--server', url, '--memory-mb', '0.65', '--state-dir', path.join(stateDir, `v${i}`), '--drain-ms', '0']));
    }
    await until('the three volunteers to cover every block', () => covered(3), 90_000);
  }, 150_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all(volunteers.map((v) => stopBouquet(v)));
    if (serve !== undefined) await stopBouquet(serve);
    rmSync(stateDir, { recursive: true, force: true });
  }, 30_000);

  it('bouquet chat prints bouquet generate\'s greedy text, and each volunteer keeps its key in a 0600 file', () => {
    const maxTokens = 24;
    const r = spawnSync(process.execPath, [bouquet, 'chat', '--server', url, '--prompt', prompt, '--max-tokens', String(maxTokens), '--temperature', '0', '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { text: string; ids: number[]; route: unknown[] };
    expect(result.ids).toEqual(reference(maxTokens).ids);
    expectText(result.text, maxTokens);
    expect(result.route.length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 3; i++) expect(statSync(path.join(stateDir, `v${i}`, 'volunteer-key.json')).mode & 0o777).toBe(0o600);
  }, 150_000);

  it('gives the same text when a volunteer process on the route is killed mid-answer', async () => {
    const maxTokens = 40;
    const c = await startNodeClient({ origin: url });
    client = c;
    let killed: string | undefined;
    const result = await c.generate({
      prompt, maxNewTokens: maxTokens, seed: 1, sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 },
      onText: (_piece, index) => {
        if (index + 1 < 8 || killed !== undefined) return;
        killed = 'pending';
        void state().then((s) => {
          const victim = activeRouteVictim(s, { clientId: c.transport.peerId });
          const proc = volunteers.find((v) => peerIdOf(v) === victim);
          killed = victim;
          proc?.child.kill('SIGKILL');
        });
      },
    });
    expect(killed).toBeDefined();
    expect(result.ids).toEqual(reference(maxTokens).ids);
    expectText(result.text, maxTokens);
    expect(result.failovers.map((f) => f.failedPeer)).toContain(killed);
  }, 150_000);
});

describe('bouquet demo without Chromium', () => {
  it('runs on Node peers, says so, and prints generate\'s text across a failover (--once --json)', () => {
    const maxTokens = 24;
    const r = spawnSync(process.execPath, [bouquet, 'demo', '--once', '--json', '--port', '0', '--max-tokens', String(maxTokens), '--kill-volunteer-after', '8'], {
      cwd: repoRoot, encoding: 'utf8', timeout: 150_000, env: { ...process.env, CHROMIUM_PATH: path.join(os.tmpdir(), 'no-chromium-here') },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Node peers/);
    const result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { text: string; ids: number[]; failovers: unknown[] };
    expect(result.ids).toEqual(reference(maxTokens).ids);
    expectText(result.text, maxTokens);
    expect(result.failovers.length).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
