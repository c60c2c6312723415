// An in-process swarm for verified results (the verify bench and its tests): signing SessionHosts on real runtimes over the in-memory transport,
// routes that give every hop a check share, evidence judged by the coordinator's own judge and recomputation, a ban list.
import * as ort from 'onnxruntime-web';
import { parseVerifyEvidence, type VerifyEvidence, type VerifyVerdict } from '../../core/api/index.ts';
import { FrameLink, MemoryNetwork, PeerError } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { BanList, inProcessRecomputer, judgeEvidence, resolveModel, type StepRecomputer } from '../../server/index.ts';

import {
  ClientSession, clientModelFromRuntime, samplerFor, type GenerationResult, type RouteAsk, type RouteLease, type RouteProvider, type VerifyEvent,
} from '../../web/client/index.ts';
import { SessionHost, VolunteerIdentity, memoryKeyStore, webSha256 } from '../../web/volunteer/index.ts';
import { createInThreadRuntime, openModelWeights, openTokenizer, type BlockRuntime, type ModelWeights, type OpFlavour, type TextTokenizer } from '../../worker/index.ts';

/** One volunteer of the swarm. */
export interface SwarmVolunteer {
  peerId: string;
  publicKey: string;
  span: BlockSpan;
}

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

/**
 * Routes over the swarm's volunteers for the asked span, picked with `random` among those not
 * excluded or banned, each hop with check share `share`; evidence goes through the real validator,
 * judge and recomputation, and bans remove a volunteer from later routes.
 */
export class CheckedRoutes implements RouteProvider {
  readonly verdicts: VerifyVerdict[] = [];
  readonly evidence: VerifyEvidence[] = [];
  private next = 1;
  constructor(private readonly swarm: VerifySwarm, private readonly share: number, private readonly random: () => number = Math.random) {}

  requestRoute(ask: RouteAsk): Promise<RouteLease> {
    const fits = this.swarm.volunteers.filter((x) => !ask.excludePeers.includes(x.peerId) && !this.swarm.bans.has(x.peerId) && x.span.start === ask.span.start && x.span.end === ask.span.end);
    const v = fits[Math.floor(this.random() * fits.length)];
    if (v === undefined) return Promise.reject(new PeerError('no-route', `no volunteer left for blocks [${ask.span.start}, ${ask.span.end})`));
    return Promise.resolve({ leaseId: `lease-${this.next++}`, chain: [{ peerId: v.peerId, span: v.span, verifyShare: this.share, publicKey: v.publicKey }] });
  }

  releaseRoute(): Promise<void> {
    return Promise.resolve();
  }

  async submitEvidence(e: Omit<VerifyEvidence, 'clientId'>): Promise<VerifyVerdict> {
    const parsed = parseVerifyEvidence({ ...e, clientId: 'client' });
    if (!parsed.ok) throw parsed.error;
    this.evidence.push(parsed.value);
    const verdict = await this.swarm.judge(parsed.value);
    this.verdicts.push(verdict);
    return verdict;
  }
}

/** The swarm: the model, the client's runtime, the volunteers, the coordinator's judge and ban list. */
export class VerifySwarm {
  readonly net = new MemoryNetwork();
  readonly volunteers: SwarmVolunteer[] = [];
  readonly bans = new BanList();
  private readonly runtimes: BlockRuntime[] = [];
  private clients = 0;

  private constructor(
    readonly weights: ModelWeights,
    readonly tokenizer: TextTokenizer,
    /** The client's embed + head (and a liar's aim). */
    readonly clientRuntime: BlockRuntime,
    private readonly recompute: StepRecomputer,
    readonly maxSessionTokens: number,
  ) {}

  /** A swarm on the model in `modelDir` (a folder: config.json or a llama2.c checkpoint). */
  static async open(modelDir: string, maxSessionTokens = 128): Promise<VerifySwarm> {
    const model = await resolveModel(modelDir);
    const weights = await openModelWeights(model.files, model.layout);
    const tokenizer = await openTokenizer(model.files, weights.shape);
    const client = await createInThreadRuntime(ort, weights, { client: true, backends: ['wasm'], threads: 1, maxSessionTokens, cacheBudgetBytes: 64 * 1024 * 1024 });
    return new VerifySwarm(weights, tokenizer, client, inProcessRecomputer(modelDir), maxSessionTokens);
  }

  /** All blocks of the model. */
  get fullSpan(): BlockSpan {
    return { start: 0, end: this.weights.shape.numBlocks };
  }

  /** A block runtime over `span` (wasm; `ops` graph flavour, `threads` wasm threads). */
  async runtime(span: BlockSpan = this.fullSpan, ops: OpFlavour = 'contrib', threads = 1): Promise<BlockRuntime> {
    const rt = await createInThreadRuntime(ort, this.weights, { blocks: span, ops, backends: ['wasm'], threads, maxSessionTokens: this.maxSessionTokens, cacheBudgetBytes: 64 * 1024 * 1024 });
    this.runtimes.push(rt);
    return rt;
  }

  /** A volunteer with its own key serving `span` on `rt`, signing every answer. */
  async volunteer(rt: BlockRuntime, span: BlockSpan = this.fullSpan): Promise<SwarmVolunteer> {
    const identity = await VolunteerIdentity.load(memoryKeyStore());
    const host = new SessionHost(rt);
    host.setBlocks({ span, cacheSlots: 64, maxSessionTokens: this.maxSessionTokens, hiddenSize: this.weights.shape.hiddenSize });
    host.signOutputs({ sign: (t) => identity.sign(t), sha256: webSha256 });
    this.net.createTransport(identity.peerId).onConnection((c) => host.attach(new FrameLink(c)));
    const v = { peerId: identity.peerId, publicKey: identity.publicKey, span };
    this.volunteers.push(v);
    return v;
  }

  /** The coordinator's judgement of evidence; the keys it convicts are banned. */
  async judge(e: VerifyEvidence): Promise<VerifyVerdict> {
    const verdict = await judgeEvidence(e, { hiddenSize: this.weights.shape.hiddenSize, registeredKey: () => undefined, recompute: this.recompute });
    for (const id of verdict.bannedPeerIds) this.bans.ban(id, Date.now(), verdict.message);
    return verdict;
  }

  /** One greedy generation of `maxNewTokens` after `prompt` through `routes`, the checked steps drawn with `random`. */
  generate(routes: RouteProvider, prompt: string, maxNewTokens: number, random: () => number, onEvent?: (e: VerifyEvent) => void): Promise<GenerationResult> {
    const session = new ClientSession({
      transport: this.net.createTransport(`client-${this.clients++}`), routes, model: clientModelFromRuntime(this.clientRuntime, this.weights.shape, this.maxSessionTokens),
      prefillChunkTokens: 8, verify: { random, ...(onEvent !== undefined ? { onEvent } : {}) },
    });
    return session.generate(this.tokenizer.encode(prompt, { bos: true }), { maxNewTokens, sampler: samplerFor(greedy, 1) });
  }

  async close(): Promise<void> {
    for (const rt of [...this.runtimes, this.clientRuntime]) await rt.dispose();
  }
}
