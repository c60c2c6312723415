// Seeded randomness shared by policies, the simulator, scenario generation and synthetic weights: no Math.random anywhere it matters.

/**
 * mulberry32: a tiny 32-bit-state PRNG, uniform in [0, 1). Same seed, same sequence, on every
 * platform (integer arithmetic only), which is what makes policies and simulations reproducible.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A source of uniform numbers in [0, 1), passed in (never module state) so runs are reproducible. */
export interface Random {
  next(): number;
}

/**
 * A `Random` from an integer seed: mulberry32 over the seed mixed with the golden ratio (so seeds
 * 0, 1, 2, … start far apart). The simulator's and the scenario generator's generator.
 */
export function seededRandom(seed: number): Random {
  return { next: mulberry32((Math.floor(seed) ^ 0x9e3779b9) >>> 0) };
}

/**
 * An independent stream derived from a seed and a stream name (`'arrivals'`, `'churn'`, …): the
 * name is hashed (FNV-1a) into the seed, so adding a stream does not shift the others.
 */
export function streamRandom(seed: number, stream: string): Random {
  let h = 2166136261 >>> 0;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 16777619) >>> 0;
  return seededRandom((Math.floor(seed) * 2654435761) ^ h);
}
