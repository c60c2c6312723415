// `npm run bench:serve`: coordinator figures on loopback — placement on join, route grant + release latency, throughput.
import { BouquetError } from '../../core/errors/index.ts';
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
  },
});
const J = Number(values.volunteers);
const N = Number(values.requests);
const C = Number(values.concurrency);

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

const server = await createServer({
  port: 0,
  model: '../shared/models/stories260K',
  logger: 'silent',
  placement: values.placement,
  routing: values.routing,
  coordinator: { heartbeatTimeoutMs: 600_000, placementDelayMs: 20 },
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

// Sequential over HTTP: one client, route then release.
const seq: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  const r = await client.requestRoute({ clientId: `c${i % 8}`, promptTokens: 16, maxNewTokens: 32 });
  if (r.kind !== 'route') throw new BouquetError('no-route', `no route: ${JSON.stringify(r)}`);
  await client.releaseRoute(r.leaseId, { leaseSecret: r.leaseSecret });
  seq.push(performance.now() - t);
}

// Concurrent: C clients loop route → release for N requests in all; queued answers are counted.
let queued = 0;
let done = 0;
const t1 = performance.now();
await Promise.all(
  Array.from({ length: C }, async (_, c) => {
    while (done < N) {
      done++;
      const r = await client.requestRoute({ clientId: `k${c}`, promptTokens: 16, maxNewTokens: 32 });
      if (r.kind === 'route') await client.releaseRoute(r.leaseId, { leaseSecret: r.leaseSecret });
      else queued++;
    }
  }),
);
const concMs = performance.now() - t1;

const st = server.coordinator.state();
console.log(
  JSON.stringify(
    {
      volunteers: J,
      placement: values.placement,
      routing: values.routing,
      joinToCoveredMs: Math.round(joinMs),
      predictedPerTokenMs: st.placement.perTokenMs,
      inProcessRoutePlusReleaseMs: { p50: +quantile(inProcess, 0.5).toFixed(3), p95: +quantile(inProcess, 0.95).toFixed(3), n: N },
      httpRoutePlusReleaseMs: { p50: +quantile(seq, 0.5).toFixed(2), p95: +quantile(seq, 0.95).toFixed(2), n: N },
      concurrent: { clients: C, requests: N, seconds: +(concMs / 1000).toFixed(2), perSecond: Math.round(N / (concMs / 1000)), queuedAnswers: queued },
    },
    null,
    2,
  ),
);
for (const s of sockets) s.close();
await server.close();
process.exit(0);
