// Random variates for the simulator's workload (exponential, gamma, bursty), drawn from an injected seeded `Random` (core/random).
import type { Random } from '../core/random/index.ts';

// The generator itself lives in core/random; re-exported for the simulator's modules.
export { seededRandom, streamRandom, type Random } from '../core/random/index.ts';

/** Exponential with the given mean. */
export function exponential(random: Random, mean: number): number {
  return -mean * Math.log(1 - random.next());
}

/** A standard normal variate (Box–Muller, one of the pair). */
export function standardNormal(random: Random): number {
  const u = 1 - random.next();
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape k, scale θ) by Marsaglia–Tsang (with the k < 1 boost). */
export function gamma(random: Random, shape: number, scale: number): number {
  if (shape < 1) return gamma(random, shape + 1, scale) * Math.pow(1 - random.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * scale;
  }
}

/**
 * A positive variate with the given mean and coefficient of variation (std / mean):
 * exponential at cv = 1, two-phase hyper-exponential with balanced means for cv > 1 (bursts),
 * gamma for cv < 1 (more regular than Poisson).
 */
export function variateWithCv(random: Random, mean: number, cv: number): number {
  if (cv === 1) return exponential(random, mean);
  if (cv > 1) {
    const c2 = cv * cv;
    const p = 0.5 * (1 + Math.sqrt((c2 - 1) / (c2 + 1)));
    // Balanced means: p / μ1 = (1 − p) / μ2 = mean / 2.
    return random.next() < p ? exponential(random, mean / (2 * p)) : exponential(random, mean / (2 * (1 - p)));
  }
  if (cv <= 0) return mean;
  const shape = 1 / (cv * cv);
  return gamma(random, shape, mean / shape);
}
