// The placement loop: on joins and leaves (debounced), and on a policy switch, run the policy, reconcile, put spans in force.
import type { Logger } from 'pino';
import { apiErrorBody, CoordinatorApiError, type ApiErrorBody, type PlacementView, type PolicyPrediction } from '../../core/api/index.ts';
import type { BlockSpan, SwarmSnapshot } from '../../core/swarm/index.ts';
import { capacityShortfall, predictPlacement, type PlacementPolicy, type PlacementResult, type ServerAssignment } from '../../core/placement/index.ts';
import { defaultRebalanceHorizonMs, rebalanceMoves, reconcilePlacement, wholeSlotMoves, type SpanChange } from '../../core/dispatch/index.ts';
import type { EventHub } from './events.ts';
import type { LeaseBook } from './leases.ts';
import type { Predictions } from './predictions.ts';
import type { Volunteer, VolunteerRegistry } from './registry.ts';
import { sameSpan } from '../../core/swarm/index.ts';
import { isBouquetError } from '../../core/errors/index.ts';

/** The wire body of any error (codes pass through; anything else is 'internal'). */
export function errorBody(e: unknown): ApiErrorBody {
  return apiErrorBody(e);
}

/** A named placement policy. */
export interface NamedPolicy {
  name: string;
  policy: PlacementPolicy;
}

/** What the loop needs from the coordinator around it. */
export interface PlacementLoopDeps {
  registry: VolunteerRegistry;
  leases: LeaseBook;
  events: EventHub;
  predictions: Predictions;
  log: Logger;
  now: () => number;
  maxMoves: number;
  /** Churn-aware rebalancing within the move budget after each reconcile (the combo's `rebalance`). */
  rebalance: boolean;
  placementDelayMs: number;
  /** Called after spans change, so that waiting requests get the new capacity. */
  onPlaced: () => void;
  /** The volunteer's dashboard view. */
  view: (v: Volunteer) => ReturnType<VolunteerRegistry['view']>;
}

/**
 * Runs placement: one run at a time; joins and leaves within `placementDelayMs` share one run, and a
 * change while one runs schedules another after it. A switch runs exclusively with them.
 */
export class PlacementLoop {
  private policyInForce: NamedPolicy;
  private viewInForce: PlacementView;
  /** The policy's last result (its chains are JFFC's while its spans are in force); bumps `round`. */
  private lastResult: PlacementResult | undefined;
  private resultRound = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  /**
   * Volunteers whose socket dropped without a goodbye, and until when (wall clock, performance.now() ms)
   * placement waits for them to register again: when a network change drops every socket at once they
   * come back one by one, and a run between their returns would move the first ones onto the others'
   * blocks (a reload each) although every volunteer still holds its span.
   */
  private readonly awaitedBack = new Map<string, number>();
  /** Runs are held until then (wall clock, performance.now() ms): a restarted coordinator awaiting its volunteers. */
  private heldUntil = 0;
  /** Volunteers present at the last run: one that is gone since, or a newcomer, is churn (rebalancing's trigger). */
  private lastMembers = new Set<string>();

  constructor(
    policy: NamedPolicy,
    private readonly d: PlacementLoopDeps,
  ) {
    this.policyInForce = policy;
    this.viewInForce = { policy: policy.name, perTokenMs: null, computedAtMs: d.now(), uncoveredBlocks: d.registry.uncovered() };
  }

  get policyName(): string {
    return this.policyInForce.name;
  }

  /** The placement in force as the dashboard shows it. */
  get view(): PlacementView {
    return this.viewInForce;
  }

  /** The policy's last result and a counter that changes with it. */
  get result(): { result: PlacementResult | undefined; round: number } {
    return { result: this.lastResult, round: this.resultRound };
  }

  /** A run is pending or running (it may move a volunteer onto missing blocks). */
  get pending(): boolean {
    return this.timer !== undefined || this.running !== undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Recomputes the uncovered blocks (a volunteer left or became ready). */
  refreshView(): void {
    this.viewInForce = { ...this.viewInForce, uncoveredBlocks: this.d.registry.uncovered() };
  }

  /** Resolves when no placement run is pending or running. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.running !== undefined) await this.running;
      else if (this.timer !== undefined) await new Promise((r) => setTimeout(r, this.d.placementDelayMs));
      else return;
    }
  }

  /** Holds placement runs up to `graceMs` for `peerId`, whose socket dropped, to register again (it may hold its span still). */
  awaitReturn(peerId: string, graceMs: number): void {
    if (graceMs > 0) this.awaitedBack.set(peerId, performance.now() + graceMs);
  }

  /** Holds placement runs for `ms` from now (volunteers returning to a restarted coordinator with their spans). */
  holdFor(ms: number): void {
    if (ms > 0) this.heldUntil = Math.max(this.heldUntil, performance.now() + ms);
  }

  /** `peerId` registered again: once nobody else is awaited, a held run goes ahead at the usual delay. */
  returned(peerId: string): void {
    if (!this.awaitedBack.delete(peerId) || this.holdLeftMs() > 0 || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule();
  }

  /** How long runs are still held for volunteers awaited back, ms (0: not held). */
  private holdLeftMs(): number {
    const t = performance.now();
    let left = Math.max(0, this.heldUntil - t);
    for (const [peerId, until] of this.awaitedBack) {
      if (until <= t) this.awaitedBack.delete(peerId);
      else left = Math.max(left, until - t);
    }
    return left;
  }

  /** Asks for a placement run soon (debounced; held while a dropped volunteer is awaited back). */
  schedule(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.dirty = true;
      return;
    }
    if (this.timer !== undefined) return;
    const fire = (): void => {
      const held = this.holdLeftMs();
      if (held > 0) {
        this.timer = setTimeout(fire, held);
        return;
      }
      this.timer = undefined;
      this.running = this.place(this.policyInForce, 'reconcile')
        .then(() => undefined)
        .finally(() => this.finishRun());
    };
    this.timer = setTimeout(fire, Math.max(this.d.placementDelayMs, this.holdLeftMs()));
  }

  private finishRun(): void {
    this.running = undefined;
    if (this.dirty) {
      this.dirty = false;
      this.schedule();
    } else {
      this.d.onPlaced(); // requests that waited for this placement: granted, or refused if nothing is coming
    }
  }

  /**
   * Switches the placement policy in force and re-places every volunteer by it (all that differ
   * move, reason 'rebalance'): the same run as a join's, with every difference applied instead of
   * reconciled. Throws CoordinatorApiError with the policy's own code (the old policy stays) when
   * the new one cannot place the current swarm.
   */
  async switchTo(policy: NamedPolicy): Promise<{ placement: PlacementView; moved: string[] }> {
    for (;;) {
      await this.settled();
      if (!this.pending) break;
    }
    let release: () => void = () => undefined;
    this.running = new Promise<void>((r) => (release = r));
    try {
      const moved = await this.place(policy, 'switch');
      return { placement: this.viewInForce, moved };
    } finally {
      release();
      this.finishRun();
    }
  }

  /** One run: the policy on the current swarm, its proposal reconciled (or, on a switch, applied), the spans in force predicted. */
  private async place(policy: NamedPolicy, mode: 'reconcile' | 'switch'): Promise<string[]> {
    const { registry, log, events } = this.d;
    const volunteers = registry.all();
    const snapshot = registry.planSnapshot(volunteers);
    let result: PlacementResult | undefined;
    let error: ApiErrorBody | undefined;
    if (volunteers.length > 0) {
      try {
        result = await policy.policy(snapshot);
      } catch (e) {
        // A swarm whose memory cannot hold the model says so in one sentence with the numbers, whatever the policy's own wording.
        const body = errorBody(isBouquetError(e, 'infeasible') ? (capacityShortfall(registry.model, volunteers.map((v) => v.memoryBytes)) ?? e) : e);
        if (mode === 'switch') {
          throw new CoordinatorApiError(body.code, `placement policy '${policy.name}' cannot place the current swarm: ${body.message}`, body.field, body.data);
        }
        error = body;
        log.warn({ error }, `placement failed [${body.code}]: ${body.message} (keeping spans, filling gaps greedily)`);
      }
    }
    if (this.stopped) return [];
    this.policyInForce = policy;
    const present = volunteers.filter((v) => registry.get(v.peerId) === v);
    const { changes, moved } = mode === 'switch' ? this.switchChanges(present, result) : this.reconciled(present, result, snapshot);
    this.lastMembers = new Set(present.map((v) => v.peerId));
    for (const c of changes) {
      const v = registry.get(c.peerId);
      if (v === undefined) continue;
      registry.sendAssignment(v, c.span, c.reason);
      log.info({ peerId: v.peerId, span: c.span, reason: c.reason, assignmentId: v.assignmentId }, 'assignment sent');
    }
    this.lastResult = result;
    this.resultRound++;
    const inForce = this.predictInForce(snapshot, present);
    this.viewInForce = { policy: policy.name, perTokenMs: inForce.perTokenMs, computedAtMs: this.d.now(), uncoveredBlocks: registry.uncovered() };
    if (error !== undefined) this.viewInForce.error = error;
    log.info({ policy: policy.name, mode, changes, moved, uncovered: this.viewInForce.uncoveredBlocks }, 'placement applied');
    events.emit({ type: 'placement', placement: this.viewInForce, moved });
    const updated = mode === 'switch' ? registry.all() : changes.map((c) => registry.get(c.peerId));
    for (const v of updated) if (v !== undefined) events.emit({ type: 'volunteer-updated', volunteer: this.d.view(v) });
    this.d.onPlaced();
    if (volunteers.length > 0) await this.d.predictions.update(snapshot, inForce);
    return moved;
  }

  private reconciled(present: readonly Volunteer[], result: PlacementResult | undefined, snapshot: SwarmSnapshot): { changes: SpanChange[]; moved: string[] } {
    const proposed = new Map<string, BlockSpan | null>((result?.assignments ?? []).map((a) => [a.serverId, a.span]));
    const reconciled = reconcilePlacement(
      present.map((v) => ({
        peerId: v.peerId,
        current: v.assignedSpan,
        isNew: !v.everAssigned,
        proposed: result === undefined ? undefined : (proposed.get(v.peerId) ?? null),
        maxBlocks: this.d.registry.maxBlocks(v.memoryBytes),
        activeSessions: this.d.leases.through(v.peerId),
      })),
      this.d.registry.model.numBlocks,
      this.d.maxMoves,
    );
    // Churn-aware re-placement (bouquet's combo): with what is left of the move budget, a covering volunteer
    // moves to its proposed span when the predicted gain over its expected stay outweighs the reload.
    // Only after churn, as in the simulator: a run where the same volunteers came back with their spans
    // (a network change, a coordinator restart) moves nobody, though a fresh proposal may differ.
    const ids = new Set(present.map((v) => v.peerId));
    const churned = present.some((v) => !v.everAssigned) || [...this.lastMembers].some((id) => !ids.has(id));
    if (!churned || result === undefined || present.length === 0) return reconciled;
    const restored = this.restoreWholeSlot(present, reconciled, proposed, snapshot);
    if (!this.d.rebalance || restored !== reconciled) return restored;
    let moves: ReturnType<typeof rebalanceMoves> = [];
    try {
      moves = rebalanceMoves({
        snapshot,
        spans: reconciled.spans,
        proposed,
        activeSessions: (id) => this.d.leases.through(id),
        horizonMs: defaultRebalanceHorizonMs,
        maxMoves: this.d.maxMoves - reconciled.moved.length,
        exclude: new Set(reconciled.changes.map((c) => c.peerId)),
      });
    } catch (e) {
      this.d.log.warn({ error: errorBody(e) }, 'rebalancing skipped: the spans in force cannot be predicted');
    }
    return {
      changes: [...reconciled.changes, ...moves.map((m): SpanChange => ({ peerId: m.peerId, span: m.span, reason: 'rebalance' }))],
      moved: [...reconciled.moved, ...moves.map((m) => m.peerId)],
    };
  }

  /**
   * After churn, when the spans in force lost every chain that holds a whole slot and the proposal
   * has one (core/dispatch `wholeSlotMoves`, as the simulator does): volunteers move to their
   * proposed spans within what is left of the move budget. `reconciled` itself when nobody moves.
   */
  private restoreWholeSlot(
    present: readonly Volunteer[],
    reconciled: ReturnType<typeof reconcilePlacement>,
    proposed: ReadonlyMap<string, BlockSpan | null>,
    snapshot: SwarmSnapshot,
  ): { changes: SpanChange[]; moved: string[] } {
    const memory = new Map(present.map((v) => [v.peerId, v.memoryBytes]));
    const moves = wholeSlotMoves({
      model: snapshot.model,
      spans: reconciled.spans,
      proposed,
      memoryOf: (id) => memory.get(id) ?? 0,
      activeSessions: (id) => this.d.leases.through(id),
      maxMoves: this.d.maxMoves - reconciled.moved.length,
      exclude: new Set(reconciled.changes.map((c) => c.peerId)),
    });
    if (moves.length === 0) return reconciled;
    return {
      changes: [...reconciled.changes, ...moves.map((m): SpanChange => ({ peerId: m.peerId, span: m.span, reason: 'rebalance' }))],
      moved: [...reconciled.moved, ...moves.map((m) => m.peerId)],
    };
  }

  private switchChanges(present: readonly Volunteer[], result: PlacementResult | undefined): { changes: SpanChange[]; moved: string[] } {
    const byId = new Map(present.map((v) => [v.peerId, v]));
    const changes: SpanChange[] = [];
    const moved: string[] = [];
    for (const a of result?.assignments ?? []) {
      const v = byId.get(a.serverId);
      if (v === undefined || sameSpan(v.assignedSpan, a.span)) continue;
      if (v.assignedSpan !== null) moved.push(v.peerId);
      changes.push({ peerId: v.peerId, span: a.span, reason: a.span === null ? 'idle' : 'rebalance' });
    }
    return { changes, moved };
  }

  /** The performance model's prediction for the spans in force (assigned, after reconcile), named after the policy in force. */
  private predictInForce(snapshot: SwarmSnapshot, present: readonly Volunteer[]): PolicyPrediction {
    const name = this.policyInForce.name;
    const assignments: ServerAssignment[] = present.map((v) => ({ serverId: v.peerId, span: v.assignedSpan, cacheSlots: v.cacheSlots }));
    if (assignments.length === 0) return { policy: name, perTokenMs: null, error: 'no volunteers' };
    try {
      return { policy: name, perTokenMs: predictPlacement(snapshot, assignments).perTokenMs };
    } catch (e) {
      return { policy: name, perTokenMs: null, error: e instanceof Error ? e.message : String(e) };
    }
  }
}
