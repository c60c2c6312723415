// `npm run bench:openai` (tools/bench/openai-cpu.ts): the server's CPU per token behind the OpenAI-compatible API — a server in this process
// (coordinator + its swarm client: embedding, LM head, sampling, SSE/JSON) with `bouquet volunteer` child processes serving the blocks; process.cpuUsage
// around each request, on stories260K and (--big) on a synthetic ~100M-parameter checkpoint. Prints figures; asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../../core/stats/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { createServer } from '../../server/index.ts';
import { startNodeClient } from '../node-peer/index.ts';
import { synthetic100M, syntheticParams, writeSyntheticCheckpoint } from './synthetic-checkpoint.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '../shared/models/stories260K' },
    tokens: { type: 'string', default: '64' },
    requests: { type: 'string', default: '5' },
    volunteers: { type: 'string', default: '3' },
    big: { type: 'boolean', default: false },
  },
});
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new BouquetError('timeout', `timed out waiting for ${what}`);
}

async function measure(label: string, modelDir: string, memoryMb: number, volunteerCount: number): Promise<void> {
  const server = await createServer({
    port: 0, model: modelDir, logger: 'silent', modelSizing: { maxSessionTokens: 256 }, auth: { routeRateLimits: 'off' },
    openai: { client: (origin, modelId) => startNodeClient({ origin, modelId }) },
  });
  const stateDir = mkdtempSync(path.join(tmpdir(), 'bouquet-openai-bench-'));
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < volunteerCount; i++) {
      children.push(spawn(process.execPath, [bouquet, 'volunteer', '--server', server.url, '--memory-mb', String(memoryMb), '--state-dir', path.join(stateDir, `v${i}`), '--drain-ms', '0'], { cwd: repoRoot, stdio: 'ignore' }));
    }
    await until('the volunteers to cover the model', () => {
      const s = server.coordinator.state();
      return Promise.resolve(s.volunteers.length === volunteerCount && s.volunteers.every((v) => v.state === 'serving') && s.placement.uncoveredBlocks.length === 0);
    }, 600_000);
    const modelId = server.model.info.id;
    const ask = async (): Promise<{ tokens: number; cpuMs: number; wallMs: number; hops: number }> => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await fetch(`${server.url}/v1/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: modelId, prompt: 'Once upon a time', max_tokens: Number(values.tokens), temperature: 0 }),
      });
      const body = (await res.json()) as { usage?: { completion_tokens: number }; error?: { code: string; message: string } };
      if (body.usage === undefined) throw new BouquetError('bad-response', `completion failed: ${JSON.stringify(body.error)}`);
      const cpu = process.cpuUsage(cpu0);
      const hops = server.coordinator.state().recentRoutes.at(-1)?.chain.length ?? 0;
      return { tokens: body.usage.completion_tokens, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0, hops };
    };
    await ask(); // warm-up: the server's client loads the embedding and LM head, links open
    const runs = [];
    for (let i = 0; i < Number(values.requests); i++) runs.push(await ask());
    const perToken = runs.map((r) => r.cpuMs / r.tokens);
    const tokS = runs.map((r) => (r.tokens * 1000) / r.wallMs);
    console.log(
      `${label}: ${runs.length} requests of ${runs[0]?.tokens ?? 0} tokens over ${runs.at(-1)?.hops ?? 0} hops — server CPU ${median(perToken).toFixed(2)} ms/token ` +
      `(min ${Math.min(...perToken).toFixed(2)}, max ${Math.max(...perToken).toFixed(2)}), wall ${median(tokS).toFixed(1)} tok/s end to end`,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await measure('stories260K', values.model, 0.65, Number(values.volunteers));
if (values.big) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bouquet-openai-big-'));
  try {
    const big = await writeSyntheticCheckpoint(path.join(dir, 'synthetic100M'), synthetic100M, path.join(values.model, 'tok512.bin'));
    // Two volunteers of four blocks each (51 MB a block in fp32) and their caches.
    await measure(`synthetic ${(syntheticParams(synthetic100M) / 1e6).toFixed(0)}M (${(big.bytes / 1e6).toFixed(0)} MB)`, big.dir, 320, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(0);
