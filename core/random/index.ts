// Seeded randomness shared by policies, the simulator and synthetic weights: no Math.random anywhere it matters.

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
