// A Node swarm client: the tab's ClientSession (core/generation loop, CoordinatorRoutes, failover) with the embedding and LM head in-thread.
import { randomBytes } from 'node:crypto';
import * as ort from 'onnxruntime-web';
import { CoordinatorClient } from '../../core/api/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { ClientSession, CoordinatorRoutes, LinkPool, clientModelFromRuntime, type FailoverRecord, type GenerationResult, type VerifyEvent } from '../../web/client/index.ts';
import { createInThreadRuntime, httpModelFiles, openTokenizer, samplerFor, stopTokenIdsOf, type BlockRuntime } from '../../worker/index.ts';
import type { SwarmTextClient, SwarmTextRequest } from '../../server/index.ts';
import { openServedWeights } from './volunteer.ts';
import { RedialingTransport } from './retrying-transport.ts';
import { createNodeTransport } from './webrtc.ts';

/** Options of a Node swarm client. */
export interface NodeClientOptions {
  /** The coordinator's origin, e.g. http://127.0.0.1:8787. */
  origin: string;
  /** Model to chat with (default: the server's first). */
  modelId?: string;
}

/**
 * One request through the swarm: the server's generation request (`SwarmTextRequest`, what the
 * OpenAI API asks) and what a Node program may also watch (failovers, verified-results checks).
 */
export interface NodeGeneration extends SwarmTextRequest {
  onFailover?: (f: FailoverRecord) => void;
  /** Told of each verified-results check (a mismatch, and whom the coordinator banned). */
  onVerify?: (e: VerifyEvent) => void;
}

/** A started Node client. */
export interface NodeClient extends SwarmTextClient {
  readonly modelId: string;
  /** The transport of its own client identity (requests without `onBehalfOf`). */
  readonly transport: RedialingTransport;
  generate(request: NodeGeneration): Promise<GenerationResult & { promptIds: number[] }>;
}

/** Client identities at most besides its own (one per `onBehalfOf` caller; the least recently used idle one goes first). */
export const maxCallerIdentities = 32;
/** An identity unused this long is closed (its PeerJS socket and data connections), ms. */
export const callerIdentityIdleMs = 120_000;

// A PeerJS id's characters (peerjs's own check), so that a label is part of a valid id.
const labelPattern = /^[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*$/;

/** One client identity: a PeerJS peer of its own, which is the client id the coordinator counts caps and shows routes under. */
interface ClientIdentity {
  transport: RedialingTransport;
  links: LinkPool;
  routes: CoordinatorRoutes;
}

function closeIdentity(c: ClientIdentity): void {
  c.routes.dispose();
  c.links.closeAll();
  c.transport.close();
}

/** Loads the served model's client parts from the coordinator and joins its PeerJS swarm. */
export async function startNodeClient(options: NodeClientOptions): Promise<NodeClient> {
  const coordinator = new CoordinatorClient({ origin: options.origin });
  const { weights, modelId, maxSessionTokens, baseUrl } = await openServedWeights(coordinator, options.modelId);
  const shape = weights.shape;
  const tokenizer = await openTokenizer(httpModelFiles(baseUrl), shape);
  const maxSeqLen = Math.min(maxSessionTokens, shape.maxSeqLen);
  const runtime: BlockRuntime = await createInThreadRuntime(ort, weights, {
    client: true, backends: ['wasm'], threads: 1, maxSessionTokens: maxSeqLen, cacheBudgetBytes: 1 << 20,
  });
  const openIdentity = async (peerId?: string): Promise<ClientIdentity> => {
    const transport = new RedialingTransport(await createNodeTransport({ origin: options.origin, ...(peerId !== undefined ? { peerId } : {}) }));
    const links = new LinkPool(transport);
    const routes = new CoordinatorRoutes({ origin: options.origin, clientId: transport.peerId, modelId, client: coordinator });
    return { transport, links, routes };
  };
  const own = await openIdentity();
  // The callers' identities (onBehalfOf), each started on first use; `running` counts its generations now.
  const callers = new Map<string, { ready: Promise<ClientIdentity>; running: number; lastUsedMs: number }>();
  const retire = (label: string): void => {
    const c = callers.get(label);
    callers.delete(label);
    void c?.ready.then(closeIdentity, () => undefined);
  };
  const retireIdle = (now: number): void => {
    for (const [l, c] of callers) if (c.running === 0 && now - c.lastUsedMs > callerIdentityIdleMs) retire(l);
  };
  // Idle identities close even when no new caller comes (a quiet server holds no sockets for callers gone).
  const sweep = setInterval(() => retireIdle(Date.now()), callerIdentityIdleMs / 4);
  sweep.unref();
  const callerIdentity = (label: string): { ready: Promise<ClientIdentity>; done: () => void } => {
    if (label.length > 64 || !labelPattern.test(label)) throw new BouquetError('bad-input', 'onBehalfOf must be 1 to 64 letters, digits, and single - or _ between them');
    const now = Date.now();
    retireIdle(now);
    let c = callers.get(label);
    if (c === undefined) {
      if (callers.size >= maxCallerIdentities) {
        const idle = [...callers].filter(([, x]) => x.running === 0).sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs)[0];
        if (idle === undefined) throw new BouquetError('over-quota', `this client already answers ${maxCallerIdentities} callers at once`, { retryAfterMs: 1000 });
        retire(idle[0]);
      }
      // A fresh random part: the id cannot be taken on the signaling server before this client takes it.
      const ready = openIdentity(`${label}-${randomBytes(4).toString('hex')}`);
      ready.catch(() => {
        if (callers.get(label)?.ready === ready) callers.delete(label);
      });
      c = { ready, running: 0, lastUsedMs: now };
      callers.set(label, c);
    }
    const entry = c;
    entry.running++;
    return {
      ready: entry.ready,
      done: () => {
        entry.running--;
        entry.lastUsedMs = Date.now();
      },
    };
  };
  const model = clientModelFromRuntime(runtime, shape, maxSeqLen);
  const stopTokenIds = stopTokenIdsOf(tokenizer);
  return {
    modelId, tokenizer, transport: own.transport, maxSeqLen,
    async generate(request) {
      const promptIds = typeof request.prompt === 'string' ? tokenizer.encode(request.prompt, { bos: true }) : [...request.prompt];
      if (promptIds.length === 0) throw new BouquetError('bad-input', 'the prompt has no tokens');
      if (promptIds.length >= maxSeqLen) throw new BouquetError('sequence-too-long', `the prompt is ${promptIds.length} tokens, the swarm's sessions hold ${maxSeqLen}`);
      const caller = request.onBehalfOf === undefined ? undefined : callerIdentity(request.onBehalfOf);
      try {
        const { transport, routes, links } = caller === undefined ? own : await caller.ready;
        const session = new ClientSession({ transport, routes, model, links, ...(request.onFailover !== undefined ? { onFailover: request.onFailover } : {}),
          ...(request.onVerify !== undefined ? { verify: { onEvent: request.onVerify } } : {}),
        });
        const result = await session.generate(promptIds, {
          // As `bouquet generate`: the last sampled token is never fed back, so a full session still yields one more.
          maxNewTokens: Math.max(1, Math.min(request.maxNewTokens, maxSeqLen - promptIds.length + 1)),
          sampler: samplerFor(request.sampling, request.seed),
          stopTokenIds,
          decoder: tokenizer.streamDecoder(promptIds),
          ...(request.onText !== undefined ? { onText: request.onText } : {}),
          ...(request.onToken !== undefined ? { onToken: request.onToken } : {}),
          ...(request.signal !== undefined ? { signal: request.signal } : {}),
        });
        return { ...result, promptIds };
      } finally {
        caller?.done();
      }
    },
    async close() {
      clearInterval(sweep);
      closeIdentity(own);
      for (const label of [...callers.keys()]) retire(label);
      await runtime.dispose();
    },
  };
}
