// Verified results in one process (stories260K, in-thread runtime, in-memory transport): honest volunteers on different graphs always agree,
// a volunteer that flips greedy tokens is caught, banned on the recomputed evidence and the answer stays right; a client's tampered evidence bans no one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { FrameLink, MemoryNetwork, PeerError } from '../../../core/protocol/index.ts';
import { base64url, fromBase64url, parseVerifyEvidence, type VerifyEvidence, type VerifyVerdict } from '../../../core/api/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';
import { ClientSession, clientModelFromRuntime, samplerFor, type RouteAsk, type RouteLease, type RouteProvider } from '../../../web/client/index.ts';
import { SessionHost, VolunteerIdentity, memoryKeyStore, webSha256 } from '../../../web/volunteer/index.ts';
import { resolveModel } from '../../../server/models/index.ts';
import { judgeEvidence } from '../../../server/coordinator/verdicts.ts';
import { inProcessRecomputer } from '../../../server/coordinator/recompute.ts';
import { createInThreadRuntime, type BlockRuntime, type ModelWeights, type OpFlavour } from '../../../worker/index.ts';
import { openTokenizer, type TextTokenizer } from '../../../worker/tokenizer/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { lyingRuntime } from '../../support/lying-volunteer.ts';
import { mulberry32 } from '../../../core/random/index.ts';

const modelDir = '../shared/models/stories260K';
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };
const maxSessionTokens = 128;
const full: BlockSpan = { start: 0, end: 5 };

let weights: ModelWeights;
let tokenizer: TextTokenizer;
let clientRt: BlockRuntime;
const runtimes: BlockRuntime[] = [];
const recompute = inProcessRecomputer(modelDir);

async function runtime(blocks: BlockSpan | undefined, ops: OpFlavour = 'contrib', client = false): Promise<BlockRuntime> {
  const rt = await createInThreadRuntime(ort, weights, {
    ...(blocks !== undefined ? { blocks } : {}), client, ops, backends: ['wasm'], threads: 1, maxSessionTokens, cacheBudgetBytes: 64 * 1024 * 1024,
  });
  runtimes.push(rt);
  return rt;
}

interface Vol { peerId: string; publicKey: string; span: BlockSpan }

async function volunteer(net: MemoryNetwork, rt: BlockRuntime, span: BlockSpan = full): Promise<Vol> {
  const identity = await VolunteerIdentity.load(memoryKeyStore());
  const host = new SessionHost(rt);
  host.setBlocks({ span, cacheSlots: 40, maxSessionTokens, hiddenSize: weights.shape.hiddenSize });
  host.signOutputs({ sign: (t) => identity.sign(t), sha256: webSha256 });
  net.createTransport(identity.peerId).onConnection((c) => host.attach(new FrameLink(c)));
  return { peerId: identity.peerId, publicKey: identity.publicKey, span };
}

/** Routes over a fixed list (first volunteer not excluded), each hop checked with `share`; evidence judged by the real judge and recomputation. */
class CheckedRoutes implements RouteProvider {
  readonly verdicts: VerifyVerdict[] = [];
  readonly evidence: VerifyEvidence[] = [];
  readonly banned = new Set<string>();
  private next = 1;
  constructor(private readonly vols: Vol[], private readonly share: number) {}
  requestRoute(ask: RouteAsk): Promise<RouteLease> {
    const v = this.vols.find((x) => !ask.excludePeers.includes(x.peerId) && !this.banned.has(x.peerId) && x.span.start === ask.span.start && x.span.end === ask.span.end);
    if (v === undefined) return Promise.reject(new PeerError('no-route', 'none left'));
    return Promise.resolve({ leaseId: `lease-${this.next++}`, chain: [{ peerId: v.peerId, span: v.span, verifyShare: this.share, publicKey: v.publicKey }] });
  }
  releaseRoute(): Promise<void> {
    return Promise.resolve();
  }
  async submitEvidence(e: Omit<VerifyEvidence, 'clientId'>): Promise<VerifyVerdict> {
    const parsed = parseVerifyEvidence({ ...e, clientId: 'client' });
    if (!parsed.ok) throw parsed.error;
    this.evidence.push(parsed.value);
    const verdict = await judgeEvidence(parsed.value, { hiddenSize: weights.shape.hiddenSize, registeredKey: () => undefined, recompute });
    for (const id of verdict.bannedPeerIds) this.banned.add(id);
    this.verdicts.push(verdict);
    return verdict;
  }
}

beforeAll(async () => {
  const model = await resolveModel(modelDir);
  weights = await openModelWeights(model.files, model.layout);
  tokenizer = await openTokenizer(model.files, weights.shape);
  clientRt = await runtime(undefined, 'contrib', true);
});

afterAll(async () => {
  for (const rt of runtimes) await rt.dispose();
});

const prompt = 'Once upon a time';
let clients = 0;

async function generate(net: MemoryNetwork, routes: CheckedRoutes, maxNewTokens: number, seed: number): Promise<Awaited<ReturnType<ClientSession['generate']>>> {
  const session = new ClientSession({
    transport: net.createTransport(`client-${seed}-${clients++}`), routes, model: clientModelFromRuntime(clientRt, weights.shape, maxSessionTokens),
    prefillChunkTokens: 8, verify: { random: mulberry32(seed), onEvent: (e) => { if (process.env.VR_DEBUG !== undefined) console.log(JSON.stringify(e)); } },
  });
  return session.generate(tokenizer.encode(prompt, { bos: true }), { maxNewTokens, sampler: samplerFor(greedy, 1) });
}

describe('verified results (in-process swarm on stories260K)', () => {
  it('honest volunteers on contrib and standard-ops graphs agree on every checked step, and the text is unchanged', async () => {
    const net = new MemoryNetwork();
    const vols = [await volunteer(net, await runtime(full, 'contrib')), await volunteer(net, await runtime(full, 'standard'))];
    const plain = await generate(net, new CheckedRoutes(vols, 0), 40, 1);
    const routes = new CheckedRoutes(vols, 1);
    const checked = await generate(net, routes, 40, 1);
    expect(checked.ids).toEqual(plain.ids);
    expect(checked.verification?.compared).toBe(39); // every decode step but the one the prompt's prefill answers
    expect(checked.verification?.mismatches).toBe(0);
    expect(checked.verification?.maxAgreedRelDiff).toBeLessThan(1e-4);
    expect(routes.verdicts).toEqual([]);
    expect(plain.verification?.compared).toBe(0);
  }, 120_000);

  it('a volunteer adding the smallest flipping perturbation is caught, banned on the recomputed evidence, and the answer is the honest one', async () => {
    const net = new MemoryNetwork();
    const honestRun = await generate(net, new CheckedRoutes([await volunteer(net, await runtime(full))], 0), 32, 2);
    const lies: number[] = [];
    const liar = await volunteer(net, lyingRuntime(await runtime(full), { share: 0.3, random: mulberry32(7), aim: clientRt, onLie: (l) => lies.push(l.maxRel) }));
    const honest = await volunteer(net, await runtime(full, 'standard'));
    const routes = new CheckedRoutes([liar, honest], 1);
    const r = await generate(net, routes, 32, 2);
    expect(lies.length).toBeGreaterThan(0);
    expect(r.ids).toEqual(honestRun.ids);
    expect(r.verification?.bannedPeerIds).toEqual([liar.peerId]);
    expect(r.failovers.map((f) => [f.failedPeer, f.code])).toEqual([[liar.peerId, 'wrong-result']]);
    expect(routes.verdicts.map((v) => v.outcome)).toEqual(['banned']);
    expect(routes.verdicts[0]?.bannedPeerIds).toEqual([liar.peerId]);
  }, 120_000);

  it('a client that tampers with honest evidence (inputs, outputs, a key) gets no one banned', async () => {
    const net = new MemoryNetwork();
    const liar = await volunteer(net, lyingRuntime(await runtime(full), { share: 1, random: () => 0, aim: clientRt }));
    const honest = await volunteer(net, await runtime(full));
    const routes = new CheckedRoutes([honest, liar], 1);
    await generate(net, routes, 8, 3);
    // The honest volunteer was checked against the liar: the liar (the checker) is the one banned.
    expect(routes.verdicts[0]?.bannedPeerIds).toEqual([liar.peerId]);
    const e = routes.evidence[0];
    if (e === undefined) throw new Error('no evidence');
    const judge = (x: VerifyEvidence): Promise<VerifyVerdict> => judgeEvidence(x, { hiddenSize: weights.shape.hiddenSize, registeredKey: () => undefined, recompute });
    const honestClaim = e.claims.find((c) => c.peerId === honest.peerId);
    if (honestClaim === undefined) throw new Error('no honest claim');
    const flip = (text: string, at: number): string => {
      const b = fromBase64url(text) ?? new Uint8Array();
      b[at] = (b[at] ?? 0) ^ 0x40;
      return base64url(b);
    };
    // Only the honest claim, its output changed: the signature no longer covers it.
    const tamperedOutput = { ...e, claims: [{ ...honestClaim, output: flip(honestClaim.output, 3) }, { ...honestClaim, peerId: liar.peerId, publicKey: liar.publicKey }] };
    // Inputs changed (an earlier row): the honest signature's input digest no longer matches.
    const tamperedInputs = { ...e, inputs: flip(e.inputs, 10) };
    // The honest answer claimed under the honest id but another key.
    const otherKey = { ...e, claims: [{ ...honestClaim, publicKey: liar.publicKey }, e.claims.find((c) => c.peerId === liar.peerId) ?? honestClaim] };
    for (const x of [tamperedOutput, tamperedInputs, otherKey]) {
      const v = await judge(x);
      expect(v.bannedPeerIds).not.toContain(honest.peerId);
    }
    expect((await judge(tamperedOutput)).outcome).toBe('unproven');
    // Untampered, only the honest claim counts: recomputed, it is right.
    expect((await judge({ ...e, claims: [honestClaim, { ...honestClaim, peerId: 'vk-00000000000000000000000000000000' }] })).outcome).toBe('no-fault');
  }, 120_000);
});
