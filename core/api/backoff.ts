// The one backoff with jitter, for every site that retries or reconnects (route requests, failovers, coordinator sockets).

/** How long to wait between tries, and how many tries to make. */
export interface BackoffPolicy {
  /** Wait before the first retry (attempt 0), ms; each later attempt doubles it. */
  firstMs: number;
  /** Longest wait, ms (before jitter). */
  maxMs: number;
  /** Share of the wait drawn at random, in [0, 1]: the wait is w·(1 − jitter·u), u uniform in [0, 1). Default 0.5. */
  jitter?: number;
  /** Retries allowed in a row before giving up (Infinity: never give up). */
  maxAttempts: number;
  /** Uniform generator in [0, 1) (injected for tests; default Math.random). Jitter keeps many clients from retrying in lockstep. */
  random?: () => number;
}

/** Wait before retry number `attempt` (0-based), ms: min(maxMs, firstMs·2^attempt), less a random share. */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number): number {
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.5));
  const random = policy.random ?? Math.random;
  const ceilingMs = Math.min(policy.maxMs, policy.firstMs * 2 ** Math.max(0, attempt));
  return ceilingMs * (1 - jitter * random());
}

/** Counts the retries in a row of one reconnecting or retrying site. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly policy: BackoffPolicy) {}

  /** Retries made since the last success. */
  get attempts(): number {
    return this.attempt;
  }

  /** The wait before the next retry, ms, or null when `maxAttempts` retries in a row have been made. */
  next(): number | null {
    if (this.attempt >= this.policy.maxAttempts) return null;
    return backoffDelayMs(this.policy, this.attempt++);
  }

  /** A try succeeded: the next failure starts from `firstMs` again. */
  reset(): void {
    this.attempt = 0;
  }
}
