// Summary statistics of samples (latencies in ms, RTTs): one median and one quantile for benches, the coordinator and the simulator.

/**
 * The median of a sample (the mean of the two middle values when the count is even); NaN when
 * the sample is empty. Units are the sample's (ms in every caller today). Does not modify `xs`.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/**
 * Nearest-rank quantile `q` (0..1) of an ascending sample: the smallest value with at least
 * q × n values at or below it. NaN when empty. Units are the sample's.
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** Nearest-rank quantile `q` (0..1) of a sample in any order (see `quantileOfSorted`); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  return quantileOfSorted([...xs].sort((a, b) => a - b), q);
}
