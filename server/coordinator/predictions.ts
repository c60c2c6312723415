// Predictions for the dashboard: the spans in force, and what every other policy would give on the same swarm.
import type { PolicyPrediction } from '../../core/api/index.ts';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';
import type { PlacementPolicy } from '../../core/placement/index.ts';
import type { EventHub } from './events.ts';

/** One policy's predicted per-token time on `snapshot`, or why it has none. */
async function predictWith(name: string, policy: PlacementPolicy, snapshot: SwarmSnapshot): Promise<PolicyPrediction> {
  try {
    const r = await policy(snapshot);
    return { policy: name, perTokenMs: r.prediction.perTokenMs };
  } catch (e) {
    return { policy: name, perTokenMs: null, error: e instanceof Error ? e.message : String(e) };
  }
}

/** The dashboard's prediction list, kept current round by round. */
export class Predictions {
  private list: PolicyPrediction[] = [];
  /** Counts prediction rounds, so a slow policy's answer for an older swarm is not shown as current. */
  private round = 0;
  /** Slow prediction policies now running, and the latest snapshot each must run on next (if newer). */
  private readonly slow = new Map<string, { running: Promise<void>; next?: { round: number; snapshot: SwarmSnapshot } }>();
  private stopped = false;

  constructor(
    private readonly policies: Record<string, PlacementPolicy>,
    private readonly slowNames: ReadonlySet<string>,
    private readonly events: EventHub,
  ) {}

  get current(): PolicyPrediction[] {
    return this.list;
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * A new round on `snapshot`: `inForce` is the prediction for the spans in force (after reconcile),
   * named after the policy in force; the others are each policy's own proposal on the same swarm.
   */
  async update(snapshot: SwarmSnapshot, inForce: PolicyPrediction): Promise<void> {
    const round = ++this.round;
    const out: PolicyPrediction[] = [inForce];
    const others = Object.entries(this.policies).filter(([name]) => name !== inForce.policy);
    for (const [name, policy] of others) if (!this.slowNames.has(name)) out.push(await predictWith(name, policy, snapshot));
    if (this.stopped || round !== this.round) return;
    // Started only now, after the last await: a slow answer always lands on this round's list.
    for (const [name, policy] of others) {
      if (!this.slowNames.has(name)) continue;
      out.push({ policy: name, perTokenMs: null, pending: true });
      this.startSlow(name, policy, round, snapshot);
    }
    this.list = out;
    this.events.emit({ type: 'predictions', predictions: out });
  }

  /** Runs a slow policy's prediction in the background; a round that arrives meanwhile runs after it, older ones are dropped. */
  private startSlow(name: string, policy: PlacementPolicy, round: number, snapshot: SwarmSnapshot): void {
    const busy = this.slow.get(name);
    if (busy !== undefined) {
      busy.next = { round, snapshot };
      return;
    }
    const running = predictWith(name, policy, snapshot).then((p) => {
      const next = this.slow.get(name)?.next;
      this.slow.delete(name);
      if (this.stopped) return;
      if (round === this.round) {
        this.list = this.list.map((q) => (q.policy === name ? p : q));
        this.events.emit({ type: 'predictions', predictions: this.list });
      }
      if (next !== undefined && next.round === this.round) this.startSlow(name, policy, next.round, next.snapshot);
    });
    this.slow.set(name, { running });
  }

  /** Resolves once no slow prediction is running (tests and shutdown use it). */
  async settled(): Promise<void> {
    while (this.slow.size > 0) await Promise.all([...this.slow.values()].map((s) => s.running));
  }
}
