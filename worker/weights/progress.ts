// Download progress of weight loading: bytes of tensors fetched so far out of the bytes the requested parts need.
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { ModelFiles, ModelWeights, WeightPart } from './types.ts';

/** Progress of a weight download, in bytes of stored tensor data (IndexedDB hits count as fetched). */
export interface WeightLoadProgress {
  /** Bytes of tensor data read so far. */
  loadedBytes: number;
  /** Bytes of tensor data the requested parts need (from the file headers). */
  totalBytes: number;
}

/** The parts a runtime serving `blocks` (and the client parts when `client`) reads, in reading order. */
export function weightPartsToLoad(blocks: BlockSpan | undefined, client: boolean): WeightPart[] {
  const parts: WeightPart[] = [];
  if (blocks !== undefined) for (let b = blocks.start; b < blocks.end; b++) parts.push({ kind: 'block', index: b });
  if (client) parts.push({ kind: 'embedding' }, { kind: 'finalNorm' }, { kind: 'lmHead' });
  return parts;
}

/** Stored bytes of `parts`, or null when the weights cannot tell (synthetic weights). */
export function storedBytesOf(weights: ModelWeights, parts: WeightPart[]): number | null {
  if (weights.storedBytes === undefined) return null;
  let sum = 0;
  for (const p of parts) sum += weights.storedBytes(p);
  return sum;
}

/**
 * Counts the bytes read through the files it wraps, once started: start it after the headers are parsed,
 * so that only tensor reads count. Wrap it around the IndexedDB cache so cache hits count as fetched.
 */
export class WeightReadMeter {
  private counting = false;
  private loadedBytes = 0;
  private totalBytes = 0;

  constructor(private readonly onProgress: (p: WeightLoadProgress) => void) {}

  /** `files` with every read counted (while started). */
  wrap(files: ModelFiles): ModelFiles {
    return {
      location: files.location,
      open: (name) => {
        const src = files.open(name);
        return {
          name: src.name,
          size: () => src.size(),
          read: async (offset, length) => {
            const bytes = await src.read(offset, length);
            if (this.counting) {
              this.loadedBytes += bytes.byteLength;
              this.report();
            }
            return bytes;
          },
        };
      },
      exists: (name) => files.exists(name),
      ...(files.list !== undefined ? { list: files.list.bind(files) } : {}),
    };
  }

  /** Starts counting from zero toward `totalBytes`; reports 0 of `totalBytes` at once. */
  start(totalBytes: number): void {
    this.counting = true;
    this.loadedBytes = 0;
    this.totalBytes = totalBytes;
    this.report();
  }

  /** Stops counting (reads after loading, e.g. re-reads when segments split, are not download progress). */
  stop(): void {
    this.counting = false;
  }

  private report(): void {
    this.onProgress({ loadedBytes: this.loadedBytes, totalBytes: this.totalBytes });
  }
}
