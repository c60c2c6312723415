// KV-cache budgeting in 16-token blocks: public surface of core/cache (used by the runtime, the volunteer and the coordinator).
export {
  tokenBlockTokens, tokenBlocksFor, cacheBytesPerTokenBlock, reserveTokensFor, tokenBlocksForSlots, cacheBytesPerSlot, cacheBudgetBytes,
  KvCacheBudget, type CacheAdmission, type CacheReservation, type CacheBudgetUsage,
} from './kv-cache.ts';
