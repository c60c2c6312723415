// The simulator's service model beyond core/perf's nominal times: per-server speed variability, per-step jitter and contention (docs/scenarios.md "Service").
import { BouquetError } from '../core/errors/index.ts';
import type { ContentionSpec, SwarmSnapshot } from '../core/swarm/index.ts';
import type { CacheReservation } from '../core/dispatch/index.ts';
import { gamma, standardNormal, type Random } from './random.ts';

// The contention model is core/swarm's (the snapshot carries it to the policies) and core/perf's factor.
export type { ContentionSpec } from '../core/swarm/index.ts';
export { contentionFactor } from '../core/perf/index.ts';

/** The contention the browser runtime was measured with (`npm run bench:contention`): pure serialization. */
export const browserContention: ContentionSpec = { baseTaus: 0, perSessionTaus: 1 };

/** Options of the service model; every one absent (or 0) reproduces core/perf's nominal times. */
export interface ServiceSpec {
  /**
   * Coefficient of variation of each server's actual step time around its declared τ, drawn once
   * per run (log-normal with mean 1); policies keep seeing the declared τ. 0: off.
   */
  speedCv?: number;
  /** Coefficient of variation of each step's time around the server's (gamma steps, mean 1). 0: off. */
  stepJitterCv?: number;
  /** Step time growing with concurrent sessions; absent: concurrency costs memory, not time. */
  contention?: ContentionSpec;
  /** How much cache admission reserves per session: a whole slot (default, as live) or its declared length. */
  reservation?: CacheReservation;
}

/** Whether the service model draws anything (then the run needs its random stream). */
export function serviceDraws(spec: ServiceSpec | undefined): boolean {
  return (spec?.speedCv ?? 0) > 0 || (spec?.stepJitterCv ?? 0) > 0;
}

/**
 * Each server's actual step time as a multiple of its declared τ, drawn once per run in the
 * swarm's server order (log-normal, mean 1, the given cv). All 1 when `speedCv` is 0 or absent.
 */
export function drawSpeedFactors(swarm: SwarmSnapshot, spec: ServiceSpec | undefined, random: Random | undefined): Map<string, number> {
  const cv = spec?.speedCv ?? 0;
  const out = new Map<string, number>();
  if (cv > 0 && random === undefined) throw new BouquetError('bad-input', 'service.speedCv needs a random stream');
  const s2 = Math.log(1 + cv * cv);
  for (const s of swarm.servers) out.set(s.id, cv > 0 && random !== undefined ? Math.exp(-s2 / 2 + Math.sqrt(s2) * standardNormal(random)) : 1);
  return out;
}

/**
 * Mean multiplier of `steps` jittered steps (each a gamma variate of mean 1 and cv `cv`, so their
 * mean is Gamma(steps / cv², cv² / steps)): exact for the sum without drawing each step. 1 when off.
 */
export function jitterFactor(cv: number, steps: number, random: Random | undefined): number {
  if (!(cv > 0) || steps <= 0) return 1;
  if (random === undefined) throw new BouquetError('bad-input', 'service.stepJitterCv needs a random stream');
  const shape = steps / (cv * cv);
  return gamma(random, shape, 1 / shape);
}

/** Tokens one session's slot holds (core/placement's, where bouquet's planner reads it too). */
export { slotTokensOf } from '../core/placement/index.ts';
