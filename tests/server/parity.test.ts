// Parity: the same sequence through the simulator's orchestration and through the live coordinator gives the same decisions.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { BlockSpan, Chain, ServerSpec, SwarmSnapshot } from '../../core/swarm/index.ts';
import type { CoordinatorToVolunteerMessage, RouteResponse } from '../../core/api/index.ts';
import type { PlacementResult } from '../../core/placement/index.ts';
import { placementPolicyFor, routingPolicyFor } from '../../core/policies/index.ts';
import { Coordinator, loadServedModel, type VolunteerConnection } from '../../server/index.ts';
import { simulateAsync, streamRandom, type ChurnTraceEntry, type SimRequest } from '../../sim/index.ts';
import { protocolVersion } from '../../core/protocol/index.ts';
import { stories260K } from './helpers.ts';
import { NodeIdentity } from '../support/node-identity.ts';

const model = await loadServedModel(stories260K);
const { blockBytes, cacheBytesPerBlock } = model.info;
const typical = 'typical-client';
const prefillMsPerBlock = { perTokenMs: 0.05, fixedMs: 1 };

/** Memory for `blocks` blocks plus `slots` single-block caches, bytes. */
function budget(blocks: number, slots: number): number {
  return blocks * blockBytes + slots * cacheBytesPerBlock;
}

// v0–v3 are placed by the policy; v4 and v5 come back with [0, 2) loaded (spans kept), so that a
// gap later has redundant holders to move.
const placed: ServerSpec[] = [
  { id: 'v0', memoryBytes: budget(3, 3), decodeMsPerBlock: 2, prefillMsPerBlock },
  { id: 'v1', memoryBytes: budget(3, 3), decodeMsPerBlock: 1, prefillMsPerBlock },
  { id: 'v2', memoryBytes: budget(2, 2), decodeMsPerBlock: 1, prefillMsPerBlock },
  { id: 'v3', memoryBytes: budget(2, 2), decodeMsPerBlock: 2, prefillMsPerBlock },
];
const loaded: ServerSpec[] = [
  { id: 'v4', memoryBytes: budget(2, 2), decodeMsPerBlock: 3, prefillMsPerBlock },
  { id: 'v5', memoryBytes: budget(2, 2), decodeMsPerBlock: 3, prefillMsPerBlock },
];
const loadedSpan: BlockSpan = { start: 0, end: 2 };

/** The coordinator's planning snapshot before any measurement: one typical client at the default 20 ms, its default workload, R = 1. */
function snapshotOf(servers: readonly ServerSpec[]): SwarmSnapshot {
  return {
    model: model.workload,
    servers: [...servers],
    clients: [{ id: typical }],
    network: {
      clientServerRttMs: { [typical]: Object.fromEntries(servers.map((s) => [s.id, 20])) },
      messageOverheadMs: 1,
      prefillOverheadMs: { perTokenMs: 0.01, fixedMs: 2 },
    },
    workload: { arrivalRatePerS: 0.1, meanInputTokens: 32, meanOutputTokens: 64, concurrentRequests: 1 },
  };
}

// Three requests at once, and a late one that keeps the simulation running past the last churn.
const lateMs = 100_000;
const requests: SimRequest[] = [1000, 1001, 1002, lateMs].map((arrivalMs, id) => ({ id, clientId: typical, arrivalMs, inputTokens: 32, outputTokens: 64 }));

interface SimRecord {
  placement: PlacementResult;
  /** Per request: when its sessions started, their chains, when it finished. */
  starts: { atMs: number; requestId: number; chain: Chain }[];
  finishMs: Map<number, number>;
  spansAfter: Map<string, BlockSpan | null>;
}

async function simulateSequence(trace: readonly ChurnTraceEntry[]): Promise<SimRecord> {
  const proposal = await placementPolicyFor('bprr')(snapshotOf(placed));
  const placement: PlacementResult = {
    ...proposal,
    assignments: [...proposal.assignments, ...loaded.map((s) => ({ serverId: s.id, span: loadedSpan, cacheSlots: 2 }))],
  };
  const starts: SimRecord['starts'] = [];
  const finishMs = new Map<number, number>();
  const spansAfter = new Map<string, BlockSpan | null>();
  const held = new Map<number, Chain | null>();
  await simulateAsync({
    swarm: snapshotOf([...placed, ...loaded]),
    placement,
    routing: routingPolicyFor('jffc'),
    requests,
    random: streamRandom(1, 'churn'),
    churnTrace: trace,
    churn: { meanOnlineMs: 1e9, meanOfflineMs: 1e9, serverIds: [] },
    replacement: placementPolicyFor('bprr'),
    observe: (e, view) => {
      for (const r of requests) {
        const chain = view.sessionChain(r.id);
        if (chain !== null && chain !== held.get(r.id)) starts.push({ atMs: view.nowMs, requestId: r.id, chain });
        held.set(r.id, chain);
      }
      if (e.kind === 'finish') finishMs.set(e.requestId, e.atMs);
      for (const a of view.placement) spansAfter.set(a.serverId, a.span);
    },
  });
  return { placement, starts, finishMs, spansAfter };
}

/** A volunteer on an in-memory link: it answers every assignment with `ready` (on the next microtask, as a socket would). */
function connect(coordinator: Coordinator, spec: ServerSpec, loadedSpan?: BlockSpan): { conn: VolunteerConnection; sent: CoordinatorToVolunteerMessage[] } {
  const sent: CoordinatorToVolunteerMessage[] = [];
  const holder: { conn?: VolunteerConnection } = {};
  const conn = coordinator.connectVolunteer({
    send: (m) => {
      sent.push(m);
      if (m.type === 'assignment' && m.span !== null) {
        const ready = { type: 'ready', assignmentId: m.assignmentId, span: m.span };
        queueMicrotask(() => holder.conn?.receive(ready));
      }
    },
    close: () => undefined,
  });
  holder.conn = conn;
  const challenge = sent.find((m) => m.type === 'challenge');
  const identity = NodeIdentity.create();
  conn.receive({
    type: 'register',
    peerId: spec.id,
    publicKey: identity.publicKey,
    signature: identity.signChallenge(challenge?.type === 'challenge' ? challenge.nonce : '', spec.id),
    memoryBytes: spec.memoryBytes,
    decodeMsPerBlock: spec.decodeMsPerBlock,
    prefillMsPerBlock: spec.prefillMsPerBlock,
    backend: 'wasm',
    modelId: model.info.id,
    protocolVersion,
    ...(loadedSpan !== undefined ? { loadedSpan } : {}),
  });
  return { conn, sent };
}

function hopsOf(chain: Chain): { peerId: string; span: BlockSpan }[] {
  return chain.hops.map((h) => ({ peerId: h.serverId, span: h.span }));
}

function grantedHops(r: RouteResponse): { peerId: string; span: BlockSpan }[] {
  if (r.kind !== 'route') throw new Error(`expected a route, got ${JSON.stringify(r)}`);
  return r.chain;
}

const coordinators: Coordinator[] = [];
afterEach(() => {
  for (const c of coordinators.splice(0)) c.stop();
});

describe('simulator ↔ live coordinator parity', () => {
  it('joins, a queued request granted on a release, a sub-span failover, a reconcile capped by the move budget, and a policy switch decide the same', async () => {
    // The simulator first, without churn, to learn when each session runs.
    const calm = await simulateSequence([]);
    const f0 = calm.finishMs.get(0);
    const f1 = calm.finishMs.get(1);
    const f2 = calm.finishMs.get(2);
    if (f0 === undefined || f1 === undefined || f2 === undefined) throw new Error('the calm run did not finish');
    const r2chain = calm.starts.find((s) => s.requestId === 2)?.chain;
    const lastHop = r2chain?.hops[r2chain.hops.length - 1];
    if (lastHop === undefined) throw new Error('request 2 never ran');
    // Mid-session of request 2, the server of its last hop leaves; after it, two more leave at once,
    // opening a gap that needs two moves with a budget of one.
    const t1 = (f1 + f2) / 2;
    const firstHop = r2chain?.hops[0]?.serverId ?? '';
    // Leaves well after request 2 has finished (its failover chain may be slower than the calm one).
    const t2 = f2 + 5000;
    expect(t2).toBeLessThan(lateMs);
    const firstLeave: ChurnTraceEntry = { atMs: t1, serverId: lastHop.serverId, kind: 'server-leave' };
    const takenOver = (await simulateSequence([firstLeave])).starts.filter((x) => x.requestId === 2)[1]?.chain.hops ?? [];
    const secondLeaves = [firstHop, ...takenOver.filter((h) => h.span.start >= lastHop.span.start).map((h) => h.serverId)];
    const trace: ChurnTraceEntry[] = [firstLeave, ...secondLeaves.map((serverId) => ({ atMs: t2, serverId, kind: 'server-leave' as const }))];
    const sim = await simulateSequence(trace);
    const simStarts = (id: number) => sim.starts.filter((x) => x.requestId === id);
    const sim2Finish = sim.finishMs.get(2) ?? Infinity;
    expect(sim2Finish).toBeLessThan(t2);

    // The live coordinator, on the same clock.
    let nowMs = 0;
    const coordinator = new Coordinator({
      model,
      placement: { name: 'bprr', policy: placementPolicyFor('bprr') },
      routing: routingPolicyFor('jffc'),
      predictionPolicies: {},
      logger: pino({ level: 'silent' }),
      placementDelayMs: 1,
      maxMovesPerRound: 1,
      heartbeatTimeoutMs: 1e9,
      leaseMs: 1e9,
      ticketTtlMs: 1e9,
      workload: { concurrentRequests: 1 },
      now: () => nowMs,
      keyBoundPeerIds: false, // the simulator's server ids
    });
    coordinators.push(coordinator);
    const settle = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 0));
      await coordinator.whenSettled();
      await new Promise((r) => setTimeout(r, 0));
    };
    const spans = (): Map<string, BlockSpan | null> => new Map(coordinator.state().volunteers.map((v) => [v.peerId, v.assignedSpan]));
    const links = new Map<string, VolunteerConnection>();
    for (const v of placed) links.set(v.id, connect(coordinator, v).conn);
    await settle();
    // Joins: the policy's spans, the same on both sides.
    const live0 = spans();
    for (const a of sim.placement.assignments.slice(0, placed.length)) expect(live0.get(a.serverId)).toEqual(a.span);
    for (const v of loaded) links.set(v.id, connect(coordinator, v, loadedSpan).conn);
    await settle();
    for (const a of sim.placement.assignments) expect(spans().get(a.serverId)).toEqual(a.span);

    // Request 0 runs; 1 and 2 wait in the queue (the only chain is full); each release grants the next.
    const ask = (): RouteResponse => coordinator.requestRoute({ clientId: typical, promptTokens: 32, maxNewTokens: 64 });
    nowMs = 1000;
    const r0 = ask();
    expect(grantedHops(r0)).toEqual(hopsOf(simStarts(0)[0]?.chain ?? { hops: [] }));
    nowMs = 1001;
    const q1 = ask();
    nowMs = 1002;
    const q2 = ask();
    expect([q1.kind, q2.kind]).toEqual(['queued', 'queued']);
    expect(simStarts(1)[0]?.atMs).toBe(f0); // the simulator queued it too, until request 0 finished
    if (r0.kind !== 'route' || q1.kind !== 'queued' || q2.kind !== 'queued') throw new Error('unexpected answers');
    nowMs = f0;
    coordinator.release(r0.leaseId, r0.leaseSecret);
    const r1 = await coordinator.pollTicket(q1.ticketId);
    expect(grantedHops(r1)).toEqual(hopsOf(simStarts(1)[0]?.chain ?? { hops: [] }));
    expect((await coordinator.pollTicket(q2.ticketId)).kind).toBe('queued');
    if (r1.kind !== 'route') throw new Error('unexpected answer');
    nowMs = f1;
    coordinator.release(r1.leaseId, r1.leaseSecret);
    const r2 = await coordinator.pollTicket(q2.ticketId);
    expect(grantedHops(r2)).toEqual(hopsOf(simStarts(2)[0]?.chain ?? { hops: [] }));

    // Mid-session the last hop's volunteer leaves: the client keeps its other hops and asks for the lost blocks only.
    nowMs = t1;
    links.get(lastHop.serverId)?.closed();
    const failover = coordinator.requestRoute({ clientId: typical, promptTokens: 32, maxNewTokens: 64, span: lastHop.span, excludePeers: [lastHop.serverId] });
    const simResumed = simStarts(2)[1];
    expect(simResumed?.atMs).toBe(t1);
    const simNewHops = hopsOf(simResumed?.chain ?? { hops: [] }).filter((h) => h.span.start >= lastHop.span.start);
    expect(grantedHops(failover)).toEqual(simNewHops);
    expect(simNewHops.every((h) => h.peerId !== lastHop.serverId)).toBe(true);
    // The kept hops are the old ones.
    expect(hopsOf(simResumed?.chain ?? { hops: [] }).filter((h) => h.span.end <= lastHop.span.start)).toEqual(
      hopsOf(r2chain ?? { hops: [] }).filter((h) => h.span.end <= lastHop.span.start),
    );
    await settle();

    // Two more leave at once (the first hop's, and the one that took over): the gap needs two moves, the budget allows one.
    if (r2.kind !== 'route' || failover.kind !== 'route') throw new Error('unexpected answers');
    nowMs = sim2Finish;
    coordinator.release(r2.leaseId, r2.leaseSecret);
    coordinator.release(failover.leaseId, failover.leaseSecret);
    nowMs = t2;
    const before = spans();
    expect(failover.chain.map((h) => h.peerId)).toEqual(secondLeaves.slice(1));
    for (const id of secondLeaves) links.get(id)?.closed();
    await settle();
    const after = spans();
    const moved = [...after].filter(([id, span]) => before.get(id) !== undefined && JSON.stringify(before.get(id)) !== JSON.stringify(span));
    expect(moved).toHaveLength(1);
    expect(coordinator.state().placement.uncoveredBlocks.length).toBeGreaterThan(0);
    for (const [id, span] of after) expect(sim.spansAfter.get(id)).toEqual(span);
    // With a block still uncovered, a new request finds no route on either side.
    nowMs = lateMs;
    const late = ask();
    expect(late.kind === 'error' ? late.error.code : late.kind).toBe('no-route');
    expect(simStarts(3)).toEqual([]);

    // A policy switch: the new policy's spans on the same swarm, applied to every volunteer that differs.
    const online = [...placed, ...loaded].filter((s) => after.has(s.id));
    const gbpCr = { concurrentRequests: 1 };
    const proposal = await placementPolicyFor('gbp-cr', gbpCr)(snapshotOf(online));
    const switched = await coordinator.switchPlacementPolicy('gbp-cr', placementPolicyFor('gbp-cr', gbpCr));
    expect(switched.placement.policy).toBe('gbp-cr');
    const final = spans();
    for (const a of proposal.assignments) expect(final.get(a.serverId)).toEqual(a.span);
  });
});

describe('live JFFC on the placement policy’s own chains', () => {
  it('grants only on GBP-CR’s chains, up to their capacities, then queues', async () => {
    const specs: ServerSpec[] = [
      { id: 'g0', memoryBytes: budget(5, 40), decodeMsPerBlock: 1, prefillMsPerBlock },
      { id: 'g1', memoryBytes: budget(5, 40), decodeMsPerBlock: 2, prefillMsPerBlock },
    ];
    const options = { concurrentRequests: 1 };
    const proposal = await placementPolicyFor('gbp-cr', options)(snapshotOf(specs));
    const chains = proposal.chains ?? [];
    expect(chains.length).toBeGreaterThan(0);
    const capacity = chains.reduce((n, c) => n + c.capacity, 0);
    let nowMs = 0;
    const coordinator = new Coordinator({
      model,
      placement: { name: 'gbp-cr', policy: placementPolicyFor('gbp-cr', options) },
      routing: routingPolicyFor('jffc'),
      logger: pino({ level: 'silent' }),
      placementDelayMs: 1,
      heartbeatTimeoutMs: 1e9,
      leaseMs: 1e9,
      ticketTtlMs: 1e9,
      workload: { concurrentRequests: 1 },
      now: () => nowMs,
      keyBoundPeerIds: false, // the simulator's server ids
    });
    coordinators.push(coordinator);
    for (const s of specs) connect(coordinator, s);
    await new Promise((r) => setTimeout(r, 0));
    await coordinator.whenSettled();
    await new Promise((r) => setTimeout(r, 0));
    const policyChains = chains.map((c) => JSON.stringify(hopsOf(c.chain)));
    const answers: RouteResponse[] = [];
    for (let i = 0; i <= capacity; i++) {
      nowMs = 1000 + i;
      answers.push(coordinator.requestRoute({ clientId: typical, promptTokens: 32, maxNewTokens: 64 }));
    }
    for (const a of answers.slice(0, capacity)) expect(policyChains).toContain(JSON.stringify(grantedHops(a)));
    // One more than the chains' capacities waits in the central queue.
    expect(answers[capacity]?.kind).toBe('queued');
  });
});
