// A Node volunteer: the tab's VolunteerAgent with the in-thread wasm runtime, over PeerJS on node-datachannel, its key on disk.
import * as ort from 'onnxruntime-web';
import { CoordinatorClient } from '../../core/api/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import type { PeerJsTransport } from '../../web/transport/index.ts';
import { VolunteerAgent, WebSocketCoordinator, inThreadVolunteerRuntime, type SpeedMeasurement } from '../../web/volunteer/index.ts';
import { httpModelFiles, openModelWeights, type ModelWeights } from '../../worker/index.ts';
import { DiskKeyStore, volunteerIdentity, type VolunteerKeyStore } from './key-store.ts';
import { createNodeTransport } from './webrtc.ts';

/** Backends a Node volunteer may be asked for; `auto` is wasm here (Dawn's `webgpu` package is not installed). */
export type NodeBackendChoice = 'auto' | 'webgpu' | 'wasm';

/** Options of a Node volunteer. */
export interface NodeVolunteerOptions {
  /** The coordinator's origin, e.g. http://127.0.0.1:8787. */
  origin: string;
  /** M_j: bytes given to weights + cache (default 256 MiB, a tab's default). */
  memoryBytes?: number;
  backend?: NodeBackendChoice;
  /** Model to serve (default: the one the swarm needs blocks for most). */
  modelId?: string;
  /** Where the key pair lives (default a {@link DiskKeyStore} in `stateDir`). */
  keyStore?: VolunteerKeyStore;
  /** State dir for the default key store. */
  stateDir?: string;
  /** wasm threads (default 1). */
  threads?: number;
  /** Skip the speed probe and register these figures (tests that need no timing). */
  fixedSpeed?: SpeedMeasurement;
}

/** A started Node volunteer. */
export interface NodeVolunteer {
  readonly agent: VolunteerAgent;
  readonly transport: PeerJsTransport;
  readonly modelId: string;
  /** Leaves the swarm (drains up to `drainMs`) and frees the runtime. */
  leave(drainMs?: number): Promise<void>;
}

/** Refuses what this Node cannot run: WebGPU needs Dawn's `webgpu` npm package, which is not installed. */
export function nodeBackend(choice: NodeBackendChoice): 'wasm' {
  if (choice === 'webgpu') {
    throw new BouquetError('backend-unavailable', "WebGPU in Node needs Dawn's `webgpu` npm package, which is not installed here; use --backend wasm (or auto)");
  }
  return 'wasm';
}

/** Opens the served model's weights over HTTP from the coordinator, as a tab's worker does. */
export async function openServedWeights(coordinator: CoordinatorClient, modelId: string | undefined): Promise<{ weights: ModelWeights; modelId: string; maxSessionTokens: number; baseUrl: string; checkpoint?: string }> {
  const served = await coordinator.servedModel(undefined, modelId);
  const files = httpModelFiles(served.baseUrl);
  const weights = await openModelWeights(files, served.checkpoint !== undefined ? { kind: 'llama2c', checkpoint: served.checkpoint } : undefined);
  return {
    weights, modelId: served.info.id, maxSessionTokens: served.info.maxSessionTokens, baseUrl: served.baseUrl,
    ...(served.checkpoint !== undefined ? { checkpoint: served.checkpoint } : {}),
  };
}

/** Joins the swarm at `options.origin` as a volunteer; resolves once it measured its speed and registered. */
export async function startNodeVolunteer(options: NodeVolunteerOptions): Promise<NodeVolunteer> {
  const backend = nodeBackend(options.backend ?? 'auto');
  const coordinator = new CoordinatorClient({ origin: options.origin });
  const wanted = options.modelId ?? (await coordinator.models()).suggestedModelId;
  const { weights, modelId } = await openServedWeights(coordinator, wanted);
  const identity = await volunteerIdentity(options.keyStore ?? new DiskKeyStore(options.stateDir ?? '.'));
  // The key-bound peer id, admitted by the signaling server only with the key's token.
  const transport = await createNodeTransport({ origin: options.origin, peerId: identity.peerId, token: await identity.signalingToken() });
  const runtime = inThreadVolunteerRuntime(ort, weights, {
    backends: [backend], threads: options.threads ?? 1, ...(options.fixedSpeed !== undefined ? { fixedSpeed: options.fixedSpeed } : {}),
  });
  const agent = new VolunteerAgent({
    transport,
    coordinator: new WebSocketCoordinator({ origin: options.origin }),
    runtime,
    memoryBytes: options.memoryBytes ?? 256 * 1024 * 1024,
    backend,
    modelId,
    hiddenSize: weights.shape.hiddenSize,
    identity,
  });
  try {
    await agent.start();
  } catch (e) {
    transport.close();
    throw e;
  }
  return { agent, transport, modelId, leave: (drainMs = 0) => agent.leave(drainMs) };
}
