// Fair use: caps on the leases and queue entries one client (and one address) holds, so no one takes every session or fills the queue.
import { CoordinatorApiError } from '../../core/api/index.ts';

/** Caps per client id and per remote address (IPv6 by /64); an in-process caller has no address. */
export interface FairUseLimits {
  /** Active leases one client id holds (a chat tab holds one, two while it fails over). */
  maxLeasesPerClient: number;
  /** Active leases one address holds (many tabs may share a NAT). */
  maxLeasesPerAddress: number;
  /** Central-queue entries one client id holds. */
  maxQueuedPerClient: number;
  /** Central-queue entries one address holds (a fifth of the default 1000-entry queue). */
  maxQueuedPerAddress: number;
}

/** Defaults: 16 leases and 16 queue entries per client; 256 leases and 200 queue entries per address. */
export const defaultFairUseLimits: FairUseLimits = {
  maxLeasesPerClient: 16,
  maxLeasesPerAddress: 256,
  maxQueuedPerClient: 16,
  maxQueuedPerAddress: 200,
};

/**
 * Ids (leases or tickets) held per key, pruned lazily with `alive`: an id that ended is dropped the
 * next time its key is counted or at `prune` (the sweep), so no end path needs a hook.
 */
export class Holdings {
  private readonly byKey = new Map<string, Set<string>>();

  constructor(private readonly alive: (id: string) => boolean) {}

  /** Live ids of `key`. */
  count(key: string): number {
    const ids = this.byKey.get(key);
    if (ids === undefined) return 0;
    for (const id of ids) if (!this.alive(id)) ids.delete(id);
    if (ids.size === 0) this.byKey.delete(key);
    return ids.size;
  }

  add(key: string, id: string): void {
    let ids = this.byKey.get(key);
    if (ids === undefined) this.byKey.set(key, (ids = new Set()));
    ids.add(id);
  }

  /** Drops every id that ended (and keys left empty). */
  prune(): void {
    for (const key of [...this.byKey.keys()]) this.count(key);
  }
}

/** The keys one request is counted under: its client id, and its address when it came over the network. */
export function holderKeys(clientId: string, addressKey: string | undefined): string[] {
  return addressKey === undefined ? [`client:${clientId}`] : [`client:${clientId}`, `address:${addressKey}`];
}

/** Throws CoordinatorApiError `over-quota` when a key already holds its cap of `what`. */
export function checkQuota(holdings: Holdings, keys: readonly string[], caps: { client: number; address: number }, what: 'leases' | 'queue entries'): void {
  for (const key of keys) {
    const cap = key.startsWith('client:') ? caps.client : caps.address;
    const held = holdings.count(key);
    if (held >= cap) {
      throw new CoordinatorApiError('over-quota', `${key.replace(':', ' ').slice(0, 80)} already holds ${held} ${what} (at most ${cap}); release one first`, undefined, { held, cap, scope: key.startsWith('client:') ? 'client' : 'address' });
    }
  }
}
