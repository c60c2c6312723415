// Headless volunteer page: a VolunteerAgent over PeerJS with the block runtime in a worker; state on window for tests.
import { BouquetError } from '../../core/errors/index.ts';
import { CoordinatorClient, type Backend } from '../../core/api/index.ts';
import { registeredMemoryBytes } from '../../core/model/index.ts';
import { VolunteerAgent, VolunteerIdentity, WebSocketCoordinator, memoryKeyStore, tabKeyStore, workerTicker, workerVolunteerRuntime, type VolunteerSnapshot } from '../volunteer/index.ts';
import { PeerJsTransport } from '../transport/index.ts';
import { fetchServedModel } from '../app/shared/served-model.ts';
import { backendsFromQuery } from './model-source.ts';
import type { VolunteerHandle } from './handles.ts';

// The handle on window, for drivers whose libs include DOM (tests/); Node drivers read it through HeadlessGlobals.
declare global {
  interface Window {
    bouquetVolunteer?: VolunteerHandle;
  }
}

const statusEl = document.getElementById('status');
const params = new URLSearchParams(location.search);
const handle: VolunteerHandle = {
  snapshot: () => { throw new BouquetError('not-loaded', 'not started'); },
  leave: () => Promise.resolve(),
  error: null,
};
window.bouquetVolunteer = handle;

function show(s: VolunteerSnapshot): void {
  if (statusEl === null) return;
  const span = s.span === null ? '-' : `[${s.span.start}, ${s.span.end})`;
  statusEl.textContent = `${s.status} | peer ${s.peerId} | blocks ${span} | slots ${s.slotsUsed}/${s.slotsTotal} | sessions ${s.activeSessions} active, ${s.sessionsServed} served | ${s.tokensPerS.toFixed(1)} tok/s${s.lastError !== null ? ` | ${s.lastError}` : ''}`;
}

/**
 * M_j to register: `?budget=N` is the tab's whole budget in bytes (the runtime's measured cost taken off, core/model's
 * registeredMemoryBytes); `?memory=N` is M_j itself, weights + cache at their nominal sizes (tests that size placement
 * directly); neither: 256 MiB of M_j.
 */
function memoryToRegister(q: URLSearchParams, backend: Backend): number {
  const budget = Number(q.get('budget') ?? '0');
  if (budget > 0) return registeredMemoryBytes(budget, backend);
  const memory = Number(q.get('memory') ?? '0');
  return memory > 0 ? memory : 256 * 1024 * 1024;
}

async function main(): Promise<void> {
  const origin = location.origin;
  // `?model=<id>` serves that model; without it, the one the swarm needs blocks for most (the only one with a single model).
  const coordinator = new CoordinatorClient({ origin });
  const modelId = params.get('model') ?? (await coordinator.models()).suggestedModelId;
  const { info, source } = await fetchServedModel(origin, coordinator, modelId);
  // A fresh key per page (test drivers open many volunteer pages in one browser); ?identity=tab keeps the tab's key in IndexedDB.
  const identity = await VolunteerIdentity.load(params.get('identity') === 'tab' ? await tabKeyStore() : memoryKeyStore());
  const transport = await PeerJsTransport.create({ origin, peerId: identity.peerId, token: await identity.signalingToken() });
  const runtime = workerVolunteerRuntime({
    newWorker: () => new Worker(new URL('../../worker/block-worker.ts', import.meta.url), { type: 'module' }),
    model: source,
    backends: backendsFromQuery(params),
    ...(params.get('threads') !== null ? { threads: Number(params.get('threads')) } : {}),
    ...(params.get('spin') !== null ? { threadSpinning: params.get('spin') !== '0' } : {}),
  });
  const { shape, backend } = await runtime.prepare();
  const agent = new VolunteerAgent({
    transport,
    identity,
    coordinator: new WebSocketCoordinator({ origin }),
    runtime,
    memoryBytes: memoryToRegister(params, backend),
    backend,
    modelId: info.id,
    hiddenSize: shape.hiddenSize,
    startTicker: workerTicker, // heartbeats on time even if a hidden tab's timers are throttled
  });
  handle.snapshot = () => agent.snapshot;
  handle.leave = () => agent.leave();
  agent.onChange(show);
  addEventListener('pagehide', () => void agent.leave());
  await agent.start();
}

main().catch((e: unknown) => {
  handle.error = e instanceof Error ? e.message : String(e);
  if (statusEl !== null) statusEl.textContent = `error: ${handle.error}`;
});
