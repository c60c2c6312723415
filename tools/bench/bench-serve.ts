// `npm run bench:serve`: coordinator figures on loopback — placement on join, route grant + release latency, throughput; auth, fair use and verified results on vs off.
import { BouquetError, isBouquetError } from '../../core/errors/index.ts';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { quantile } from '../../core/stats/index.ts';
import {
  apiPaths, CoordinatorClient, parseCoordinatorToVolunteerMessage, type CoordinatorSocket, type CoordinatorToVolunteerMessage, type RegisterMessage,
} from '../../core/api/index.ts';
import { createServer } from '../../server/index.ts';
import { protocolVersion } from '../../core/protocol/index.ts';
import { VolunteerIdentity } from '../../web/volunteer/index.ts';

const { values } = parseArgs({
  options: {
    volunteers: { type: 'string', default: '24' },
    requests: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '16' },
    routing: { type: 'string', default: 'jffc' },
    placement: { type: 'string', default: 'bprr' },
    rounds: { type: 'string', default: '2' },
  },
});
const J = Number(values.volunteers);
const N = Number(values.requests);
const C = Number(values.concurrency);
const rounds = Number(values.rounds);

// stories260K, fp32, 512-token sessions.
const blockBytes = 181_760;
const cacheBytesPerBlock = 131_072;

/** A registered volunteer that does nothing but confirm its assignments (the coordinator is what is measured). */
async function volunteer(client: CoordinatorClient, i: number): Promise<CoordinatorSocket<CoordinatorToVolunteerMessage>> {
  const blocks = 1 + (i % 5);
  // A real identity: the registration answers the coordinator's challenge, as a volunteer tab's does.
  const identity = await VolunteerIdentity.load();
  const register: RegisterMessage = {
    type: 'register',
    peerId: identity.peerId,
    publicKey: identity.publicKey,
    memoryBytes: blocks * blockBytes + (4 + (i % 7)) * blocks * cacheBytesPerBlock,
    decodeMsPerBlock: 0.5 + (i % 4),
    prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 },
    backend: i % 3 === 0 ? 'webgpu' : 'wasm',
    modelId: 'stories260K',
    protocolVersion,
  };
  return new Promise((resolve, reject) => {
    const socket = client.openSocket(apiPaths.volunteerSocket, parseCoordinatorToVolunteerMessage, {
      onOpen: () => undefined,
      onMessage: (m) => {
        if (m.type === 'challenge') {
          void identity.signChallenge(m.nonce).then((signature) => socket.send({ ...register, signature }));
        }
        if (m.type === 'registered') resolve(socket);
        if (m.type === 'assignment' && m.span !== null) socket.send({ type: 'ready', assignmentId: m.assignmentId, span: m.span });
      },
      onInvalid: (e) => reject(e),
      onClose: (retryInMs) => {
        if (retryInMs === null) reject(new BouquetError('peer-unavailable', `volunteer v${i} could not reach the coordinator`));
      },
    }, { firstMs: 50, maxMs: 500, maxAttempts: 5 });
  });
}

/**
 * Auth, fair use and verified results: `off` (no rate limits, caps out of reach, no checks asked of clients), `checks` (every check runs — origin,
 * content type, buckets, caps — with the address bucket sized above this bench's load: their cost),
 * `on` (the defaults: this bench's one loopback address is held to 50 requests/s, by design).
 */
type AuthMode = 'off' | 'checks' | 'on';

/** Figures of one server in one auth mode. */
async function measure(auth: AuthMode): Promise<Record<string, unknown>> {
  const server = await createServer({
    port: 0,
    model: '../shared/models/stories260K',
    logger: 'silent',
    placement: values.placement,
    routing: values.routing,
    ...(auth === 'off' ? { auth: { routeRateLimits: 'off' as const } } : {}),
    ...(auth === 'checks' ? { auth: { routeRateLimits: { perAddress: { perSecond: 1e6, burst: 1e6 } } } } : {}),
    coordinator: {
      heartbeatTimeoutMs: 600_000,
      placementDelayMs: 20,
      ...(auth === 'off' ? { fairUse: { maxLeasesPerClient: 1e9, maxLeasesPerAddress: 1e9, maxQueuedPerClient: 1e9, maxQueuedPerAddress: 1e9 } } : {}),
      // Off: no verified results either (route answers ask no checks); the clients' cost of checking is bench:verify's.
      ...(auth === 'off' ? { verify: { share: 0, probationShare: 0 } } : {}),
    },
  });
  const client = new CoordinatorClient({ origin: server.url, createSocket: (url) => new WebSocket(url) });
  const t0 = performance.now();
  const sockets = await Promise.all(Array.from({ length: J }, (_, i) => volunteer(client, i)));
  await server.coordinator.whenSettled();
  while (server.coordinator.state().volunteers.some((v) => v.state !== 'serving') || server.coordinator.state().placement.uncoveredBlocks.length > 0) {
    if (performance.now() - t0 > 30_000) throw new BouquetError('timeout', 'the swarm did not cover the model within 30 s');
    await new Promise((r) => setTimeout(r, 5));
    await server.coordinator.whenSettled();
  }
  const joinMs = performance.now() - t0;

  // In process (no HTTP): the coordinator's own cost of deciding, booking and freeing a route.
  const inProcess: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const r = server.coordinator.requestRoute({ clientId: `c${i % 8}`, promptTokens: 16, maxNewTokens: 32 });
    if (r.kind !== 'route') throw new BouquetError('no-route', `no route: ${JSON.stringify(r)}`);
    server.coordinator.release(r.leaseId, r.leaseSecret);
    inProcess.push(performance.now() - t);
  }

  // Sequential over HTTP: route then release; a new client id per request, as many honest tabs would
  // send (one id at full speed is what the per-client bucket stops; the loopback address's bucket still applies).
  const seq: number[] = [];
  let limited = 0;
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const r = await client.requestRoute({ clientId: `s${i}`, promptTokens: 16, maxNewTokens: 32 }).catch((e: unknown) => {
      if (isBouquetError(e, 'rate-limited')) return null;
      throw e;
    });
    if (r === null) {
      limited++;
      continue;
    }
    if (r.kind !== 'route') throw new BouquetError('no-route', `no route: ${JSON.stringify(r)}`);
    await client.releaseRoute(r.leaseId, { leaseSecret: r.leaseSecret });
    seq.push(performance.now() - t);
  }

  // Concurrent: C clients loop route → release for N requests in all; queued and rate-limited answers are counted.
  let queued = 0;
  let done = 0;
  let limitedConcurrent = 0;
  const t1 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async (_, c) => {
      while (done < N) {
        const i = done++;
        const r = await client.requestRoute({ clientId: `k${c}-${i}`, promptTokens: 16, maxNewTokens: 32 }).catch((e: unknown) => {
          if (isBouquetError(e, 'rate-limited')) return null;
          throw e;
        });
        if (r === null) limitedConcurrent++;
        else if (r.kind === 'route') await client.releaseRoute(r.leaseId, { leaseSecret: r.leaseSecret });
        else queued++;
      }
    }),
  );
  const concMs = performance.now() - t1;

  const st = server.coordinator.state();
  const out = {
    auth,
    volunteersHeld: st.volunteers.length,
    joinToCoveredMs: Math.round(joinMs),
    predictedPerTokenMs: st.placement.perTokenMs,
    inProcessRoutePlusReleaseMs: { p50: +quantile(inProcess, 0.5).toFixed(3), p95: +quantile(inProcess, 0.95).toFixed(3), n: N },
    httpRoutePlusReleaseMs: { p50: +quantile(seq, 0.5).toFixed(2), p95: +quantile(seq, 0.95).toFixed(2), n: seq.length, rateLimited: limited },
    concurrent: {
      // perSecond: routes granted and released per second (refusals are not counted as served).
      clients: C, requests: N, seconds: +(concMs / 1000).toFixed(2), perSecond: Math.round((N - queued - limitedConcurrent) / (concMs / 1000)),
      answeredPerSecond: Math.round(N / (concMs / 1000)), queuedAnswers: queued, rateLimitedAnswers: limitedConcurrent,
    },
  };
  for (const s of sockets) s.close();
  await server.close();
  return out;
}

// Interleaved off/on/off/on in one run (the box is shared and noisy): the ratio is what to read.
const runs: Record<string, unknown>[] = [];
for (let r = 0; r < rounds; r++) for (const auth of ['off', 'checks', 'on'] as const) runs.push(await measure(auth));
type Run = { auth: string; httpRoutePlusReleaseMs: { p50: number }; concurrent: { perSecond: number }; volunteersHeld: number };
const typed = runs as unknown as Run[];
const median = (xs: number[]): number => quantile(xs, 0.5);
const of = (auth: string, f: (r: Run) => number): number => median(typed.filter((r) => r.auth === auth).map(f));
console.log(
  JSON.stringify(
    {
      volunteers: J,
      placement: values.placement,
      routing: values.routing,
      runs,
      volunteersHeld: { off: of('off', (r) => r.volunteersHeld), checks: of('checks', (r) => r.volunteersHeld), on: of('on', (r) => r.volunteersHeld) },
      checksVsOff: {
        httpRoutePlusReleaseP50Ratio: +(of('checks', (r) => r.httpRoutePlusReleaseMs.p50) / of('off', (r) => r.httpRoutePlusReleaseMs.p50)).toFixed(3),
        concurrentPerSecondRatio: +(of('checks', (r) => r.concurrent.perSecond) / of('off', (r) => r.concurrent.perSecond)).toFixed(3),
      },
      onVsOff: { concurrentPerSecondRatio: +(of('on', (r) => r.concurrent.perSecond) / of('off', (r) => r.concurrent.perSecond)).toFixed(3) },
    },
    null,
    2,
  ),
);
process.exit(0);
