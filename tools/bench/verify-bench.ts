// `npm run bench:verify`: verified results, measured — requests until a token-flipping liar is banned, false positives of honest volunteers on
// different graphs and thread counts, and the cost per token of checking (share 0 vs the default vs 1, interleaved in one run).
import { parseArgs } from 'node:util';
import { mulberry32 } from '../../core/random/index.ts';
import { median, quantile } from '../../core/stats/index.ts';
import { catchProbability, defaultVerifyShare, probationVerifyShare } from '../../core/verify/index.ts';
import { lyingRuntime } from './lying-volunteer.ts';
import { createServer, type BouquetServer } from '../../server/index.ts';
import { DiskKeyStore, startNodeClient, startNodeVolunteer, type NodeClient, type NodeVolunteer } from '../node-peer/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckedRoutes, VerifySwarm } from './verify-swarm.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '../shared/models/stories260K' },
    seeds: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '32' },
    'max-requests': { type: 'string', default: '60' },
    'honest-runs': { type: 'string', default: '12' },
    'cost-rounds': { type: 'string', default: '6' },
    /** Also measure the cost over real WebRTC: three servers (shares 0, 0.05, 1), two Node volunteers each, one Node client each. */
    webrtc: { type: 'boolean', default: true },
  },
});
const seeds = Number(values.seeds);
const tokens = Number(values.tokens);
const maxRequests = Number(values['max-requests']);
const honestRuns = Number(values['honest-runs']);
const costRounds = Number(values['cost-rounds']);
const lieShare = 0.1;
const prompt = 'Once upon a time';

function fmt(xs: number[]): string {
  return xs.length === 0 ? '-' : `median ${median(xs).toFixed(1)}, p90 ${quantile(xs, 0.9).toFixed(1)}, max ${Math.max(...xs)}`;
}

/** Requests (of `tokens` new tokens each) until the liar is banned, for one seed and check share; Infinity past `maxRequests`. */
async function requestsToCatch(seed: number, share: number, lieSizes: number[]): Promise<{ requests: number; decodeSteps: number }> {
  const swarm = await VerifySwarm.open(String(values.model));
  try {
    await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'standard'));
    await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'contrib'));
    const liar = await swarm.volunteer(lyingRuntime(await swarm.runtime(), {
      share: lieShare, random: mulberry32(seed * 7919 + 1), aim: swarm.clientRuntime, onLie: (l) => lieSizes.push(l.maxRel),
    }));
    // Routes and checks drawn at random, as the coordinator and a client would.
    const routes = new CheckedRoutes(swarm, share, mulberry32(seed * 104729 + 3));
    const draw = mulberry32(seed * 1299709 + 5);
    let decodeSteps = 0;
    for (let n = 1; n <= maxRequests; n++) {
      const r = await swarm.generate(routes, prompt, tokens, draw);
      decodeSteps += r.ids.length - 1;
      if (swarm.bans.has(liar.peerId)) return { requests: n, decodeSteps };
    }
    return { requests: Infinity, decodeSteps };
  } finally {
    await swarm.close();
  }
}

async function main(): Promise<void> {
  console.log(`bench:verify on ${String(values.model)}: ${tokens} new tokens per request, liar wrong on ${lieShare * 100}% of its decode steps; machine: ${(await import('node:os')).cpus().length} cores, load ${(await import('node:os')).loadavg()[0]?.toFixed(2)}`);

  // 1. Caught within N requests.
  const lieSizes: number[] = [];
  for (const share of [defaultVerifyShare, probationVerifyShare]) {
    const ns: number[] = [];
    const steps: number[] = [];
    for (let s = 1; s <= seeds; s++) {
      const r = await requestsToCatch(s, share, lieSizes);
      ns.push(r.requests);
      steps.push(r.decodeSteps);
    }
    const caught = ns.filter((n) => Number.isFinite(n));
    console.log(`catch, verifyShare ${share}: banned after N requests = [${ns.join(', ')}] over ${seeds} seeds (${caught.length}/${seeds} within ${maxRequests}); ${fmt(caught)}; decode steps served until then: ${fmt(steps)}`);
    // A third of routes put the liar first (three volunteers); as checker it is compared too.
    console.log(`  model: per decode step the liar is caught with p ≈ share·${lieShare} when on the route; P(caught within 31 steps on it) = ${catchProbability(share, lieShare, tokens - 1).toFixed(3)}`);
  }
  const rel = [...lieSizes].sort((a, b) => a - b);
  console.log(`smallest flipping perturbations (max element / row's largest magnitude): min ${rel[0]?.toExponential(2)}, median ${median(rel).toExponential(2)} over ${rel.length} lies (tolerance: 2e-5 relative + 2e-5 absolute)`);

  // 2. False positives: honest volunteers on different graphs and wasm thread counts, every decode step checked.
  {
    const swarm = await VerifySwarm.open(String(values.model));
    try {
      await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'contrib', 1));
      await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'standard', 1));
      await swarm.volunteer(await swarm.runtime(swarm.fullSpan, 'contrib', 2));
      const routes = new CheckedRoutes(swarm, 1, mulberry32(11));
      let compared = 0;
      let mismatches = 0;
      let maxRel = 0;
      const prompts = ['Once upon a time', 'The little dog', 'Lily and Tom went to the park', 'One day', 'A big red ball'];
      for (let i = 0; i < honestRuns; i++) {
        const r = await swarm.generate(routes, prompts[i % prompts.length] ?? prompt, 48, mulberry32(100 + i));
        compared += r.verification?.compared ?? 0;
        mismatches += r.verification?.mismatches ?? 0;
        maxRel = Math.max(maxRel, r.verification?.maxAgreedRelDiff ?? 0);
      }
      console.log(`false positives (contrib 1 thread, standard ops 1 thread, contrib 2 threads; verifyShare 1): ${mismatches} mismatches in ${compared} compared steps over ${honestRuns} requests, bans ${routes.verdicts.filter((v) => v.outcome === 'banned').length}; largest agreeing relative difference ${maxRel.toExponential(2)}`);
    } finally {
      await swarm.close();
    }
  }

  // 3. Cost per token, interleaved: the same swarm and prompt, share 0, the default, 1.
  {
    const swarm = await VerifySwarm.open(String(values.model));
    try {
      await swarm.volunteer(await swarm.runtime());
      await swarm.volunteer(await swarm.runtime());
      const shares = [0, defaultVerifyShare, 1];
      const perToken = new Map<number, number[]>(shares.map((s) => [s, []]));
      const maxNew = 64;
      for (let round = 0; round < costRounds; round++) {
        for (const share of shares) {
          const r = await swarm.generate(new CheckedRoutes(swarm, share, mulberry32(round)), prompt, maxNew, mulberry32(round + 50));
          const decodeMs = r.perTokenMs.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, r.perTokenMs.length - 1);
          perToken.get(share)?.push(decodeMs);
        }
      }
      const base = median(perToken.get(0) ?? [0]);
      for (const share of shares) {
        const m = median(perToken.get(share) ?? [0]);
        console.log(`cost, verifyShare ${share}: ${m.toFixed(2)} ms/token decode (median of ${costRounds} interleaved rounds of ${maxNew} tokens; ×${(m / base).toFixed(2)} of share 0)`);
      }
      console.log('  (in-process: no network; over WebRTC each check adds one or two round trips to the checker)');
    } finally {
      await swarm.close();
    }
  }
}

/** Decode ms/token over real WebRTC on loopback, shares 0 / default / 1 interleaved: one server per share (the share is the coordinator's), two Node volunteers and a Node client each. */
async function webrtcCost(): Promise<void> {
  const shares = [0, defaultVerifyShare, 1];
  const servers: BouquetServer[] = [];
  const volunteers: NodeVolunteer[] = [];
  const clients: NodeClient[] = [];
  const keys = mkdtempSync(path.join(os.tmpdir(), 'bouquet-verify-bench-'));
  try {
    for (const share of shares) {
      const server = await createServer({
        port: 0, model: String(values.model), logger: 'silent', modelSizing: { maxSessionTokens: 128 },
        coordinator: { placementDelayMs: 5, verify: { share, probationShare: share } }, auth: { routeRateLimits: 'off' },
      });
      servers.push(server);
      for (let i = 0; i < 2; i++) {
        volunteers.push(await startNodeVolunteer({
          origin: server.url, memoryBytes: 16 * 1024 * 1024, keyStore: new DiskKeyStore(path.join(keys, `v${volunteers.length}`)), fixedSpeed: { decodeMsPerBlock: 0.5, prefillMsPerBlock: { fixedMs: 0.5, perTokenMs: 0.05 } },
        }));
      }
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const st = server.coordinator.state();
        if (st.volunteers.length === 2 && st.volunteers.every((v) => v.state === 'serving') && st.placement.uncoveredBlocks.length === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      clients.push(await startNodeClient({ origin: server.url }));
    }
    const perToken = new Map<number, number[]>(shares.map((s) => [s, []]));
    const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };
    for (let round = 0; round < costRounds; round++) {
      for (const [i, share] of shares.entries()) {
        const r = await clients[i]?.generate({ prompt, maxNewTokens: 64, sampling: greedy, seed: round });
        if (r === undefined) continue;
        perToken.get(share)?.push(r.perTokenMs.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, r.perTokenMs.length - 1));
      }
    }
    const base = median(perToken.get(0) ?? [0]);
    for (const share of shares) {
      const m = median(perToken.get(share) ?? [0]);
      console.log(`cost over WebRTC, verifyShare ${share}: ${m.toFixed(2)} ms/token decode (median of ${costRounds} interleaved rounds of 64 tokens; ×${(m / base).toFixed(2)} of share 0)`);
    }
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const v of volunteers) await v.leave(0).catch(() => undefined);
    for (const s of servers) await s.close().catch(() => undefined);
    rmSync(keys, { recursive: true, force: true });
  }
}

await main();
if (values.webrtc === true) await webrtcCost();
process.exit(0);
