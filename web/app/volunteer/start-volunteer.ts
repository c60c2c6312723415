// Wires a VolunteerAgent for the volunteer page: PeerJS transport, the block runtime in a worker, the coordinator socket.
import { registeredMemoryBytes } from '../../../core/model/index.ts';
import { PeerJsTransport } from '../../transport/index.ts';
import { VolunteerAgent, VolunteerIdentity, WebSocketCoordinator, tabKeyStore, workerTicker, workerVolunteerRuntime } from '../../volunteer/index.ts';
import { fetchServedModel } from '../shared/served-model.ts';
import type { StartVolunteer, VolunteerAgentLike } from './volunteer-view.svelte.ts';

/** The page's StartVolunteer: the backend chosen first, wasm as the fallback. */
export const startVolunteerInPage: StartVolunteer = async (origin, choice): Promise<VolunteerAgentLike> => {
  const { info, source } = await fetchServedModel(origin, undefined, choice.modelId);
  const runtime = workerVolunteerRuntime({
    newWorker: () => new Worker(new URL('../../../worker/block-worker.ts', import.meta.url), { type: 'module' }),
    model: source,
    backends: choice.backend === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'],
    threads: choice.threads,
  });
  const { shape, backend } = await runtime.prepare();
  // The tab's key (IndexedDB) names it: its peer id is bound to the key, and only it may sign in under that id.
  const identity = await VolunteerIdentity.load(await tabKeyStore());
  const transport = await PeerJsTransport.create({ origin, peerId: identity.peerId, token: await identity.signalingToken() });
  return new VolunteerAgent({
    transport,
    identity,
    coordinator: new WebSocketCoordinator({ origin }),
    runtime,
    // The person's budget is the tab's whole memory: it registers what is left for weights + cache at their nominal sizes.
    memoryBytes: registeredMemoryBytes(choice.memoryBytes, backend),
    backend,
    modelId: info.id,
    hiddenSize: shape.hiddenSize,
    startTicker: workerTicker, // heartbeats on time even if a hidden tab's timers are throttled
  });
};
