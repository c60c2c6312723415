// Event-loop lag of the coordinator's own process: time the loop lost, so timeouts never blame peers for our stalls.

/** How often the lag probe ticks, ms. */
export const loopLagTickMs = 100;
/** Lateness of a tick below this is scheduling noise, not a stall, ms. */
export const loopLagSlackMs = 20;
/** Window of the recent maximum the server reports, ms. */
export const loopLagWindowMs = 60_000;

/** What the server reports of its loop: the largest stall in the last minute and all time lost since start, ms. */
export interface LoopLagReport {
  recentMaxMs: number;
  lostMs: number;
}

/**
 * Measures how late a repeating timer fires (wall clock of `performance.now()`, not the injected
 * clock, so tests that move time by hand see no lag). `lostMs` only grows; callers compare it
 * between two instants to subtract the time the loop could not run.
 */
export class LoopLag {
  private lastTickMs = performance.now();
  private lost = 0;
  /** Stalls seen: when (performance.now) and how long, ms; pruned to the window. */
  private readonly stalls: { atMs: number; ms: number }[] = [];
  private readonly timer: ReturnType<typeof setInterval>;

  constructor() {
    this.timer = setInterval(() => this.sample(), loopLagTickMs);
    this.timer.unref();
  }

  /** Time the loop lost since start, ms (samples first, so a caller right after a stall sees it). */
  get lostMs(): number {
    this.sample();
    return this.lost;
  }

  /** The report for /api/health and the dashboard. */
  report(): LoopLagReport {
    this.sample();
    const now = performance.now();
    while (this.stalls.length > 0 && (this.stalls[0]?.atMs ?? now) < now - loopLagWindowMs) this.stalls.shift();
    return { recentMaxMs: Math.round(Math.max(0, ...this.stalls.map((s) => s.ms))), lostMs: Math.round(this.lost) };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = performance.now();
    const lateMs = now - this.lastTickMs - loopLagTickMs;
    this.lastTickMs = now;
    if (lateMs <= loopLagSlackMs) return;
    this.lost += lateMs;
    this.stalls.push({ atMs: now, ms: lateMs });
    if (this.stalls.length > 1000) this.stalls.shift();
  }
}
