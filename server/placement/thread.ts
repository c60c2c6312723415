// Placement policies run in a worker thread (for the exact MILP), so a long solve never blocks the
// coordinator: signaling, heartbeats and routes go on while HiGHS works through its time limit.
import { Worker } from 'node:worker_threads';
import { BouquetError, errorFromWire, parseWireError, registerErrorKind, type WireError } from '../../core/errors/index.ts';
// Loads (and so registers) the policies' error classes, which rebuildError brings back.
import { type PlacementOptions, type PlacementPolicy, type PlacementResult } from '../../core/placement/index.ts';
import type { SwarmSnapshot } from '../../core/swarm/index.ts';

/** A job sent to the placement thread: run registered policy `policy` with `options` on `snapshot`. */
export interface PlacementJob {
  id: number;
  policy: string;
  options: PlacementOptions;
  snapshot: SwarmSnapshot;
}

/** What the placement thread answers to job `id`. */
export type PlacementJobReply =
  | { id: 0; kind: 'ready' }
  | { id: number; kind: 'result'; result: PlacementResult }
  | { id: number; kind: 'error'; error: WireError };

/** The placement thread failed, crashed, was closed or ran past its deadline (`placement-timeout`). */
export class PlacementThreadError extends BouquetError {}
registerErrorKind('PlacementThreadError', PlacementThreadError);

interface QueuedJob {
  job: PlacementJob;
  resolve: (r: PlacementResult) => void;
  reject: (e: Error) => void;
}

/** Rebuilds a policy's error as the class it was thrown as (the one registry), so callers can test `code` and `instanceof`. */
function rebuildError(error: unknown): BouquetError {
  const w = parseWireError(error);
  return w === null ? new PlacementThreadError('internal', 'the placement thread sent a malformed error') : errorFromWire(w);
}

/**
 * One worker thread that runs placement jobs one at a time, in order. A job that takes longer than
 * `deadlineMs` (the MILP's own time limit plus a margin, counted from when the thread has loaded)
 * ends the thread; the next job starts a fresh one.
 */
export class PlacementThread {
  private worker: Worker | undefined;
  /** Whether the current worker has loaded and said 'ready'. */
  private ready = false;
  private readonly queue: QueuedJob[] = [];
  private running: (QueuedJob & { timer: ReturnType<typeof setTimeout> }) | undefined;
  private nextId = 1;
  private closed = false;

  /** `deadlineMs(options, policy)`: how long a job of `policy` may run, ms. */
  constructor(private readonly deadlineMs: (options: PlacementOptions, policy: string) => number) {}

  /** A placement policy that runs the registered policy `name` with `options` in this thread. */
  policy(name: string, options: PlacementOptions = {}): PlacementPolicy {
    return (snapshot) =>
      new Promise<PlacementResult>((resolve, reject) => {
        if (this.closed) {
          reject(new PlacementThreadError('closed', 'the placement thread was closed (the server is shutting down)'));
          return;
        }
        this.queue.push({ job: { id: this.nextId++, policy: name, options, snapshot }, resolve, reject });
        this.pump();
      });
  }

  /** Rejects what is queued and ends the thread. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new PlacementThreadError('closed', 'the placement thread was closed (the server is shutting down)');
    for (const q of this.queue.splice(0)) q.reject(err);
    this.finishRunning(err);
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) await w.terminate();
  }

  private start(): Worker {
    const w = new Worker(new URL('./thread-boot.mjs', import.meta.url), { execArgv: [] });
    w.unref(); // an idle placement thread must not keep the server's process alive
    w.on('message', (reply: PlacementJobReply) => {
      if (reply.kind === 'ready') {
        this.ready = true;
        this.pump();
        return;
      }
      const r = this.running;
      if (r === undefined || r.job.id !== reply.id) return; // answer to a job that already timed out
      clearTimeout(r.timer);
      this.running = undefined;
      if (reply.kind === 'result') r.resolve(reply.result);
      else r.reject(rebuildError(reply.error));
      this.pump();
    });
    const lost = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const err = new PlacementThreadError('internal', `the placement thread stopped: ${why}`);
      if (this.running !== undefined) this.finishRunning(err);
      else this.queue.shift()?.reject(err); // it died while starting: fail the job waiting for it, not forever
      this.pump();
    };
    w.on('error', (e) => lost(e.message));
    w.on('exit', (code) => lost(`exit code ${code}`));
    return w;
  }

  private finishRunning(err: Error): void {
    const r = this.running;
    if (r === undefined) return;
    clearTimeout(r.timer);
    this.running = undefined;
    r.reject(err);
  }

  private pump(): void {
    if (this.running !== undefined || this.closed || this.queue.length === 0) return;
    if (this.worker === undefined) {
      this.ready = false;
      this.worker = this.start();
    }
    if (!this.ready) return; // pumped again on 'ready'
    const worker = this.worker;
    const next = this.queue.shift();
    if (next === undefined) return;
    const deadlineMs = this.deadlineMs(next.job.options, next.job.policy);
    const timer = setTimeout(() => {
      this.finishRunning(new PlacementThreadError('placement-timeout', `placement policy '${next.job.policy}' did not answer within ${deadlineMs} ms; its thread was restarted`));
      this.worker = undefined;
      void worker.terminate();
      this.pump();
    }, deadlineMs);
    this.running = { ...next, timer };
    worker.postMessage(next.job);
  }
}
