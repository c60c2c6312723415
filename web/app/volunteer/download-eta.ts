// Time left for a download from the progress fractions seen so far.

/** Remaining time, ms, from (time ms, fraction done) observations, at the rate of the last ~5 s; null without a rate. */
export function estimateEtaMs(points: { atMs: number; fraction: number }[]): number | null {
  if (points.length < 2) return null;
  const last = points[points.length - 1];
  // The rate over the last ~5 s: first point within that window.
  const first = points.find((p) => last !== undefined && last.atMs - p.atMs <= 5_000) ?? points[0];
  if (first === undefined || last === undefined || last.atMs <= first.atMs || last.fraction <= first.fraction) return null;
  const perMs = (last.fraction - first.fraction) / (last.atMs - first.atMs);
  return (1 - last.fraction) / perMs;
}
