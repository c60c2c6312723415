// The clients' failed requests, as they reported them: the last few kept for the dashboard, each logged once.
import type { FailureRecord, FailureReport } from '../../core/api/index.ts';

/** How many failures the log keeps (the oldest go first). */
export const failureLogCapacity = 50;
/** Reports one client may make per minute; more are dropped (a stranger cannot flood the log). */
export const failureReportsPerClientPerMinute = 10;

/** A bounded log of reported failures. */
export class FailureLog {
  readonly #records: FailureRecord[] = [];
  readonly #recentByClient = new Map<string, number[]>();

  /** Adds a report received at `nowMs`; false when the client is over its rate (nothing kept). */
  add(report: FailureReport, nowMs: number): boolean {
    const times = (this.#recentByClient.get(report.clientId) ?? []).filter((t) => nowMs - t < 60_000);
    if (times.length >= failureReportsPerClientPerMinute) return false;
    times.push(nowMs);
    this.#recentByClient.set(report.clientId, times);
    // Bound the rate table too: forget the least recently seen clients.
    if (this.#recentByClient.size > 4 * failureLogCapacity) {
      const oldest = this.#recentByClient.keys().next().value;
      if (oldest !== undefined) this.#recentByClient.delete(oldest);
    }
    this.#records.push({ ...report, atMs: nowMs });
    if (this.#records.length > failureLogCapacity) this.#records.shift();
    return true;
  }

  /** The kept failures, newest first. */
  recent(): FailureRecord[] {
    return [...this.#records].reverse();
  }
}
