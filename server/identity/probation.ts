// Probation of new keys: keys are free to make, so a key counts as trusted only once leases through it have been released cleanly.
/** Leases released through a key before it leaves probation (default). */
export const defaultProbationLeases = 20;
/** Keys remembered at most (oldest forgotten first; a forgotten key is on probation again). */
const maxKeys = 100_000;

/**
 * Per-key record: leases released (by their clients, not expired) through a peer id. The registry
 * exposes `probation` from it; placement and routing may check such volunteers more often and give
 * them a capped share of routes. In memory: after a coordinator restart every key starts over.
 */
export class ProbationBook {
  private readonly released = new Map<string, number>();

  constructor(readonly probationLeases = defaultProbationLeases) {}

  /** True while `peerId`'s key has fewer than `probationLeases` released leases. */
  onProbation(peerId: string): boolean {
    return (this.released.get(peerId) ?? 0) < this.probationLeases;
  }

  /** Counts one cleanly released lease through `peerId`. */
  noteReleased(peerId: string): void {
    const n = (this.released.get(peerId) ?? 0) + 1;
    this.released.delete(peerId);
    this.released.set(peerId, n);
    if (this.released.size > maxKeys) {
      const first = this.released.keys().next();
      if (first.done !== true) this.released.delete(first.value);
    }
  }
}
