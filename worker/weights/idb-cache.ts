// IndexedDB cache of downloaded byte ranges (idb-keyval): a returning volunteer does not download tensors again.
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { ByteSource, ModelFiles } from './types.ts';

/** Where cached ranges live; one store per origin is enough (keys carry the file URL). */
export function weightCacheStore(): UseStore {
  return createStore('bouquet-weights', 'ranges');
}

/** Wraps a ByteSource so each (offset, length) read is fetched once and then served from IndexedDB. */
export function cachedByteSource(src: ByteSource, store: UseStore, stats?: { hits: number; misses: number }): ByteSource {
  return {
    name: src.name,
    size: async () => {
      const key = `${src.name}#size`;
      const hit = await get<number>(key, store);
      if (hit !== undefined) return hit;
      const n = await src.size();
      await set(key, n, store);
      return n;
    },
    read: async (offset, length) => {
      const key = `${src.name}#${offset}+${length}`;
      const hit = await get<Uint8Array>(key, store);
      if (hit !== undefined && hit.byteLength === length) {
        if (stats !== undefined) stats.hits++;
        return hit;
      }
      const bytes = await src.read(offset, length);
      await set(key, bytes, store);
      if (stats !== undefined) stats.misses++;
      return bytes;
    },
  };
}

/** ModelFiles whose reads go through the IndexedDB cache. */
export function cachedModelFiles(files: ModelFiles, store: UseStore, stats?: { hits: number; misses: number }): ModelFiles {
  return {
    location: files.location,
    open: (name) => cachedByteSource(files.open(name), store, stats),
    exists: (name) => files.exists(name),
  };
}
