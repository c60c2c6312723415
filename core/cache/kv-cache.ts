// KV-cache sizing and admission, counted in fixed-size token blocks: the one place a volunteer's cache is budgeted.
import { BouquetError } from '../errors/index.ts';
import { cacheBytesPerBlock, type CachePrecision, type ModelShape } from '../model/index.ts';

/**
 * Tokens in one token block, the unit the KV cache is counted (and reserved) in. A session that
 * holds `n` tokens over one model block takes ⌈n / 16⌉ token blocks of that block's cache.
 */
export const tokenBlockTokens = 16;

/** Token blocks that hold `tokens` tokens (⌈tokens / 16⌉; 0 for 0). `tokens` is a non-negative integer. */
export function tokenBlocksFor(tokens: number): number {
  if (!Number.isInteger(tokens) || tokens < 0) throw new BouquetError('bad-input', `tokens must be a non-negative integer (got ${tokens})`);
  return Math.ceil(tokens / tokenBlockTokens);
}

/** Bytes of one token block of KV cache for one model block (keys and values of 16 tokens), bytes. */
export function cacheBytesPerTokenBlock(shape: ModelShape, precision: CachePrecision = 'fp32'): number {
  return cacheBytesPerBlock(shape, tokenBlockTokens, precision);
}

/**
 * How much cache a session is reserved: `slot` a whole maximum-length slot per model block (the
 * papers' s_c: every session as long as the longest), `declared` only its declared length (prompt +
 * max new tokens), in 16-token blocks. Volunteer runtimes reserve `declared` (their memory grows
 * with the tokens a session holds, never past its declaration); a coordinator books whichever its
 * policy combo says (core/policies), `slot` unless told otherwise.
 */
export type CacheReservation = 'slot' | 'declared';

/**
 * Tokens of cache a session is reserved per model block it runs under `reservation`, given the
 * `maxLength` it declared (prompt + max new tokens) and the `slotTokens` the cache is sized for
 * (l_in_max + l_out_max), tokens: the slot for `slot`, else the declaration capped at one slot.
 */
export function reserveTokensFor(maxLength: number, slotTokens: number, reservation: CacheReservation = 'slot'): number {
  switch (reservation) {
    case 'slot':
      return slotTokens;
    case 'declared':
      return Math.max(0, Math.min(Math.ceil(maxLength), slotTokens));
    default: {
      const never: never = reservation;
      return never;
    }
  }
}

/** Token blocks that `cacheSlots` whole slots of `slotTokens` tokens take (a slot = one session's cache for one model block). */
export function tokenBlocksForSlots(cacheSlots: number, slotTokens: number): number {
  return Math.max(0, Math.floor(cacheSlots)) * tokenBlocksFor(slotTokens);
}

/**
 * s_c counted in token blocks: bytes of one slot (one session's cache for one model block at
 * `slotTokens` tokens, rounded up to whole 16-token blocks), bytes. This is the s_c a coordinator
 * must count slots with (core/perf `cacheSlots`) for a model it serves, so that the slots it grants
 * are the slots {@link cacheBudgetBytes} sets aside: `model/cacheBytesPerBlock(shape, slotTokens)`
 * is smaller when `slotTokens` is not a multiple of 16, and a volunteer would overrun its memory.
 */
export function cacheBytesPerSlot(shape: ModelShape, slotTokens: number, precision: CachePrecision = 'fp32'): number {
  return tokenBlocksFor(slotTokens) * cacheBytesPerTokenBlock(shape, precision);
}

/**
 * Bytes a runtime sets aside for `cacheSlots` slots of `slotTokens` tokens at `precision` (at least
 * one slot, so a freshly placed runtime can always admit one single-block session), bytes.
 * The inverse of core/perf `cacheSlots` with s_c = {@link cacheBytesPerSlot}.
 */
export function cacheBudgetBytes(shape: ModelShape, cacheSlots: number, slotTokens: number, precision: CachePrecision = 'fp32'): number {
  return Math.max(1, Math.floor(cacheSlots)) * cacheBytesPerSlot(shape, slotTokens, precision);
}

/** What admitting a session to a {@link KvCacheBudget} gave: its reservation, or why it does not fit. */
export type CacheAdmission =
  | { ok: true; /** Token blocks reserved for the session (model blocks × token blocks per model block). */ tokenBlocks: number }
  | { ok: false; /** Token blocks the session needs. */ neededTokenBlocks: number; /** Token blocks free now. */ freeTokenBlocks: number };

/** Counts of a {@link KvCacheBudget}, in token blocks and in whole slots (as the coordinator counts). */
export interface CacheBudgetUsage {
  /** Token blocks the budget holds (over all model blocks). */
  totalTokenBlocks: number;
  usedTokenBlocks: number;
  freeTokenBlocks: number;
  /** Token blocks of one slot (one session's cache for one model block at the slot length). */
  tokenBlocksPerSlot: number;
  /** n_j: whole slots the budget holds. */
  totalSlots: number;
  /** Whole slots still free (what a heartbeat reports as free cache slots). */
  freeSlots: number;
  /** totalSlots − freeSlots. */
  usedSlots: number;
  /** Sessions holding a reservation. */
  sessions: number;
}

/**
 * A KV-cache budget that admits and frees sessions by token blocks. A session over `k` model
 * blocks reserving `R` tokens takes k · ⌈R / 16⌉ token blocks; it is admitted only if they are free.
 * Keys are the caller's session keys; reserving a key twice is a programming error.
 */
export class KvCacheBudget {
  private readonly reserved = new Map<string, number>();
  private used = 0;
  private total: number;
  /** Token blocks of one slot. */
  readonly tokenBlocksPerSlot: number;

  /** A budget of `totalTokenBlocks` token blocks whose slots are `slotTokens` tokens long. */
  constructor(totalTokenBlocks: number, readonly slotTokens: number) {
    if (!Number.isInteger(slotTokens) || slotTokens < 1) throw new BouquetError('bad-input', `slotTokens must be a positive integer (got ${slotTokens})`);
    this.total = Math.max(0, Math.floor(totalTokenBlocks));
    this.tokenBlocksPerSlot = tokenBlocksFor(slotTokens);
  }

  /** A budget of `cacheSlots` whole slots of `slotTokens` tokens. */
  static ofSlots(cacheSlots: number, slotTokens: number): KvCacheBudget {
    return new KvCacheBudget(tokenBlocksForSlots(cacheSlots, slotTokens), slotTokens);
  }

  /** A budget of as many token blocks of `tokenBlockBytes` bytes as fit in `budgetBytes` bytes. */
  static ofBytes(budgetBytes: number, tokenBlockBytes: number, slotTokens: number): KvCacheBudget {
    if (!(tokenBlockBytes > 0)) throw new BouquetError('bad-input', `tokenBlockBytes must be positive (got ${tokenBlockBytes})`);
    return new KvCacheBudget(Math.floor(Math.max(0, budgetBytes) / tokenBlockBytes), slotTokens);
  }

  /** Token blocks a session over `modelBlocks` blocks reserving `reserveTokens` tokens needs. */
  static tokenBlocksOf(modelBlocks: number, reserveTokens: number): number {
    return modelBlocks * tokenBlocksFor(reserveTokens);
  }

  /** Reserves the session's token blocks if they are free; otherwise reserves nothing and says why. */
  admit(key: string, modelBlocks: number, reserveTokens: number): CacheAdmission {
    if (this.reserved.has(key)) throw new BouquetError('session-exists', `session '${key}' already holds a reservation`);
    const need = KvCacheBudget.tokenBlocksOf(modelBlocks, reserveTokens);
    const free = this.total - this.used;
    if (need > free) return { ok: false, neededTokenBlocks: need, freeTokenBlocks: Math.max(0, free) };
    this.reserved.set(key, need);
    this.used += need;
    return { ok: true, tokenBlocks: need };
  }

  /** Frees the session's reservation; false when it held none. */
  free(key: string): boolean {
    const n = this.reserved.get(key);
    if (n === undefined) return false;
    this.reserved.delete(key);
    this.used -= n;
    return true;
  }

  /** Grows the budget to at least `cacheSlots` whole slots (a coordinator that grants more slots for blocks already loaded). */
  growToSlots(cacheSlots: number): void {
    this.total = Math.max(this.total, tokenBlocksForSlots(cacheSlots, this.slotTokens));
  }

  /** The counts now. */
  usage(): CacheBudgetUsage {
    const free = Math.max(0, this.total - this.used);
    const totalSlots = Math.floor(this.total / this.tokenBlocksPerSlot);
    const freeSlots = Math.floor(free / this.tokenBlocksPerSlot);
    return {
      totalTokenBlocks: this.total,
      usedTokenBlocks: this.used,
      freeTokenBlocks: free,
      tokenBlocksPerSlot: this.tokenBlocksPerSlot,
      totalSlots,
      freeSlots,
      usedSlots: totalSlots - freeSlots,
      sessions: this.reserved.size,
    };
  }
}
