// A Node volunteer: the tab's VolunteerAgent with the in-thread runtime (wasm, or WebGPU through Dawn), over PeerJS on node-datachannel, its key on disk.
import * as wasmOrt from 'onnxruntime-web';
import { CoordinatorClient } from '../../core/api/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { registeredMemoryBytes } from '../../core/model/index.ts';
import type { PeerJsTransport } from '../../web/transport/index.ts';
import { VolunteerAgent, WebSocketCoordinator, inThreadVolunteerRuntime, type RuntimeStarter, type SpeedMeasurement } from '../../web/volunteer/index.ts';
import { chooseBackend, httpModelFiles, openModelWeights, type ModelWeights, type Ort } from '../../worker/index.ts';
import { baselineWasmOnly, decideNodeBackend, destroyOrtWebGpuDevice, keepDawnAwake, type NodeBackendChoice, type NodeBackendDecision } from '../dawn/index.ts';
import { DiskKeyStore, volunteerIdentity, type VolunteerKeyStore } from './key-store.ts';
import { createNodeTransport } from './webrtc.ts';

/** Options of a Node volunteer. */
export interface NodeVolunteerOptions {
  /** The coordinator's origin, e.g. http://127.0.0.1:8787. */
  origin: string;
  /** M_j: bytes given to weights + cache at their nominal sizes (default 256 MiB, a tab's default). Not with budgetBytes. */
  memoryBytes?: number;
  /**
   * The process's whole serving memory, bytes (its peak RSS above its RSS before the runtime loads): registers
   * M_j = placementMemoryBytes(budget, 'node'). Not with memoryBytes; one below the runtime's fixed part is refused.
   */
  budgetBytes?: number;
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
  /** Wraps the runtime the volunteer serves on (tests and the verify bench: a volunteer that lies on some steps). */
  wrapRuntime?: (runtime: RuntimeStarter) => RuntimeStarter;
  /** graph flavour of its blocks (default contrib): honest volunteers on different graphs compute slightly different numbers. */
  ops?: 'contrib' | 'standard';
}

/** A started Node volunteer. */
export interface NodeVolunteer {
  readonly agent: VolunteerAgent;
  readonly transport: PeerJsTransport;
  readonly modelId: string;
  /** The backend its blocks run on, and why (what `auto` found, or what was asked for). */
  readonly backend: NodeBackendDecision;
  /** Leaves the swarm (drains up to `drainMs`) and frees the runtime. */
  leave(drainMs?: number): Promise<void>;
}

/**
 * The backend and the onnxruntime-web build for it: WebGPU runs on `onnxruntime-web/webgpu` (the native WebGPU EP,
 * see platform-notes) over Dawn's navigator.gpu, wasm on the Node build. A WebGPU EP that does not start on the
 * adapter is refused like a missing adapter under `webgpu`, and makes `auto` fall back to wasm, saying why.
 */
export async function nodeRuntimeBackend(choice: NodeBackendChoice, threads?: number): Promise<{ decision: NodeBackendDecision; ort: Ort }> {
  const decision = await decideNodeBackend(choice);
  if (decision.backend === 'wasm') return { decision, ort: wasmOrt };
  // Before the WebGPU build's wasm compiles: else the process needs minutes to exit (see baselineWasmOnly).
  baselineWasmOnly();
  const gpuOrt = (await import('onnxruntime-web/webgpu')) as Ort;
  const release = keepDawnAwake();
  try {
    await chooseBackend(gpuOrt, ['webgpu'], threads);
    return { decision, ort: gpuOrt };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (choice === 'webgpu') throw new BouquetError('backend-unavailable', `--backend webgpu: onnxruntime's WebGPU EP did not start on ${decision.adapter?.description ?? 'the adapter'}: ${why}`);
    return { decision: { backend: 'wasm', reason: `wasm (auto: onnxruntime's WebGPU EP did not start: ${why})` }, ort: wasmOrt };
  } finally {
    release();
  }
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

/**
 * M_j, bytes, a Node volunteer registers: `memoryBytes` as given, or what `budgetBytes` leaves after the Node runtime's
 * measured cost (core/model's registeredMemoryBytes), or 256 MiB. Throws BouquetError 'bad-argument' for both, or for a
 * budget that does not cover the runtime's fixed part.
 */
export function nodeVolunteerMemoryBytes(o: { memoryBytes?: number; budgetBytes?: number }): number {
  if (o.memoryBytes !== undefined && o.budgetBytes !== undefined) {
    throw new BouquetError('bad-argument', 'give a budget (--budget-mb, budgetBytes: the whole process) or the memory for weights + cache (--memory-mb, memoryBytes), not both');
  }
  if (o.budgetBytes !== undefined) return registeredMemoryBytes(o.budgetBytes, 'node');
  return o.memoryBytes ?? 256 * 1024 * 1024;
}

/** Node volunteers of this process serving on WebGPU (they share onnxruntime's one device). */
let webGpuVolunteers = 0;

/** Joins the swarm at `options.origin` as a volunteer; resolves once it measured its speed and registered. */
export async function startNodeVolunteer(options: NodeVolunteerOptions): Promise<NodeVolunteer> {
  const memoryBytes = nodeVolunteerMemoryBytes(options);
  const { decision, ort } = await nodeRuntimeBackend(options.backend ?? 'auto', options.threads ?? 1);
  const backend = decision.backend;
  const coordinator = new CoordinatorClient({ origin: options.origin });
  const wanted = options.modelId ?? (await coordinator.models()).suggestedModelId;
  const { weights, modelId } = await openServedWeights(coordinator, wanted);
  const identity = await volunteerIdentity(options.keyStore ?? new DiskKeyStore(options.stateDir ?? '.'));
  // The key-bound peer id, admitted by the signaling server only with the key's token.
  const transport = await createNodeTransport({ origin: options.origin, peerId: identity.peerId, token: await identity.signalingToken() });
  const plain = inThreadVolunteerRuntime(ort, weights, {
    backends: [backend], threads: options.threads ?? 1, ...(options.fixedSpeed !== undefined ? { fixedSpeed: options.fixedSpeed } : {}),
    ...(options.ops !== undefined ? { ops: options.ops } : {}),
  });
  const runtime = options.wrapRuntime?.(plain) ?? plain;
  const agent = new VolunteerAgent({
    transport,
    coordinator: new WebSocketCoordinator({ origin: options.origin }),
    runtime,
    memoryBytes,
    backend,
    modelId,
    hiddenSize: weights.shape.hiddenSize,
    identity,
  });
  // While it serves on WebGPU, Dawn's promises need a live handle (keepDawnAwake); released when it leaves, and
  // the last WebGPU volunteer of the process destroys onnxruntime's device (its GPU memory).
  let release = (): Promise<void> => Promise.resolve();
  if (backend === 'webgpu') {
    const awake = keepDawnAwake();
    webGpuVolunteers++;
    let done = false;
    release = async () => {
      if (done) return;
      done = true;
      if (--webGpuVolunteers === 0) await destroyOrtWebGpuDevice(ort);
      awake();
    };
  }
  try {
    await agent.start();
  } catch (e) {
    transport.close();
    await release();
    throw e;
  }
  return {
    agent, transport, modelId, backend: decision,
    leave: async (drainMs = 0) => {
      try {
        await agent.leave(drainMs);
      } finally {
        await release();
      }
    },
  };
}
