// Dashboard events: the listeners, and one emit that a failing listener cannot break.
import type { Logger } from 'pino';
import type { DashboardMessage, SwarmEvent, SwarmState } from '../../core/api/index.ts';
import type { SwarmListener } from './options.ts';

/** Fans swarm events out to dashboards. */
export class EventHub {
  private readonly listeners = new Set<SwarmListener>();

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Subscribes a dashboard: it gets `snapshot` now, then every event. Returns the unsubscribe function. */
  subscribe(listener: SwarmListener, snapshot: SwarmState): () => void {
    listener({ type: 'snapshot', state: snapshot });
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: SwarmEvent): void {
    const message: DashboardMessage = { type: 'event', atMs: this.now(), event };
    for (const l of this.listeners) {
      try {
        l(message);
      } catch (e) {
        this.log.warn({ error: e instanceof Error ? e.message : String(e) }, 'dashboard listener failed');
      }
    }
  }
}
