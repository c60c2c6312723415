// Request arrivals for a run: Poisson, bursty (given coefficient of variation) or a trace, with fixed or log-normal lengths, drawn from a seeded stream.
import { BouquetError } from '../core/errors/index.ts';
import type { ClientSpec } from '../core/swarm/index.ts';
import { exponential, gamma, standardNormal, variateWithCv, type Random } from './random.ts';

/** One request of a run. */
export interface SimRequest {
  /** 0-based, in arrival order. */
  id: number;
  clientId: string;
  /** Arrival time, ms from the start of the run. */
  arrivalMs: number;
  /** l_in, tokens. */
  inputTokens: number;
  /** l_out, tokens (≥ 1): what the request will actually generate. Only the engine may read it (it ends the session); no policy may. */
  outputTokens: number;
  /**
   * The declared maximum of new tokens the client asked for (≥ outputTokens): what policies plan and
   * admit with. generateRequests always sets it; absent (hand-built requests) means outputTokens.
   */
  maxNewTokens?: number;
}

/** One line of an arrival trace. */
export interface TraceEntry {
  /** Arrival time, ms from the start of the trace. */
  atMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Declared maximum of new tokens (≥ outputTokens); outputTokens when absent. */
  maxNewTokens?: number;
  /** Client id; drawn by weight when absent. */
  clientId?: string;
}

/**
 * A request length law, tokens: a fixed count, or a log-normal (median e^μ, shape σ) rounded to an
 * integer and clipped to [min, max] — the shape of the Azure LLM inference traces' lengths.
 */
export type LengthLaw = number | { law: 'lognormal'; median: number; sigma: number; min: number; max: number };

/** Mean of a length law, tokens (of the clipped, rounded law: computed numerically for a log-normal). */
export function lengthLawMean(law: LengthLaw): number {
  if (typeof law === 'number') return law;
  // Midpoint rule over the normal quantiles: exact enough (< 0.1 %) for a planning mean.
  const steps = 4000;
  let sum = 0;
  for (let i = 0; i < steps; i++) {
    const z = inverseNormal((i + 0.5) / steps);
    sum += clipLength(law, law.median * Math.exp(law.sigma * z));
  }
  return sum / steps;
}

function clipLength(law: Exclude<LengthLaw, number>, x: number): number {
  return Math.min(law.max, Math.max(law.min, Math.round(x)));
}

/** Φ⁻¹(p) by Acklam's rational approximation (relative error < 1.2e-9). */
function inverseNormal(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const tail = (q: number): number => (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** One draw of a length law (no draw for a fixed count, so fixed-length scenarios keep their streams). */
export function drawLength(law: LengthLaw, random: Random): number {
  if (typeof law === 'number') return law;
  return clipLength(law, law.median * Math.exp(law.sigma * standardNormal(random)));
}

/** How requests arrive. */
export type ArrivalSpec =
  | {
      process: 'poisson';
      ratePerS: number;
      inputTokens: LengthLaw;
      outputTokens: LengthLaw;
      /** Declared maximum of new tokens of every request (drawn outputs are clipped to it); default: the longest output the law draws. */
      maxNewTokens?: number;
      count: number;
    }
  | {
      process: 'bursty';
      ratePerS: number;
      /** Coefficient of variation of the inter-arrival times (1 = Poisson; the Azure trace ≈ 13). */
      cv: number;
      /**
       * Shape of the inter-arrival law for cv > 1: 'hyperexponential' (two Poisson phases, bursts at
       * about twice the mean rate; default) or 'gamma' (most gaps near zero: requests arrive in clumps).
       */
      law?: 'hyperexponential' | 'gamma';
      inputTokens: LengthLaw;
      outputTokens: LengthLaw;
      /** Declared maximum of new tokens of every request (drawn outputs are clipped to it); default: the longest output the law draws. */
      maxNewTokens?: number;
      count: number;
    }
  | { process: 'trace'; entries: TraceEntry[] };

function pickClient(clients: readonly ClientSpec[], random: Random): string {
  let total = 0;
  for (const c of clients) total += c.weight ?? 1;
  let u = random.next() * total;
  for (const c of clients) {
    u -= c.weight ?? 1;
    if (u < 0) return c.id;
  }
  return clients[clients.length - 1]?.id ?? '';
}

/** Whether two seeds can give different requests: drawn arrivals, or a trace line whose client is drawn among several. */
export function arrivalsAreStochastic(spec: ArrivalSpec, clients: readonly ClientSpec[]): boolean {
  switch (spec.process) {
    case 'poisson':
    case 'bursty':
      return true;
    case 'trace':
      return clients.length > 1 && spec.entries.some((e) => e.clientId === undefined);
    default: {
      const never: never = spec;
      throw new BouquetError('internal', `unknown arrival process ${JSON.stringify(never)}`);
    }
  }
}

/** The requests of one run, in arrival order; every draw comes from `random`. */
export function generateRequests(spec: ArrivalSpec, clients: readonly ClientSpec[], random: Random): SimRequest[] {
  const out: SimRequest[] = [];
  switch (spec.process) {
    case 'poisson':
    case 'bursty': {
      const meanGapMs = 1000 / spec.ratePerS;
      const maxNewTokens = spec.maxNewTokens ?? (typeof spec.outputTokens === 'number' ? spec.outputTokens : spec.outputTokens.max);
      let t = 0;
      for (let i = 0; i < spec.count; i++) {
        if (spec.process === 'poisson') t += exponential(random, meanGapMs);
        else if (spec.law === 'gamma') t += gamma(random, 1 / (spec.cv * spec.cv), meanGapMs * spec.cv * spec.cv);
        else t += variateWithCv(random, meanGapMs, spec.cv);
        out.push({ id: i, clientId: pickClient(clients, random), arrivalMs: t, inputTokens: 0, outputTokens: 1, maxNewTokens });
      }
      // Lengths after every arrival: a variable-length scenario sees the same arrival times as its fixed-length twin.
      for (const r of out) {
        r.inputTokens = drawLength(spec.inputTokens, random);
        r.outputTokens = Math.min(maxNewTokens, drawLength(spec.outputTokens, random));
      }
      return out;
    }
    case 'trace': {
      const sorted = spec.entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.atMs - b.e.atMs || a.i - b.i);
      sorted.forEach(({ e }, i) => {
        out.push({
          id: i,
          clientId: e.clientId ?? pickClient(clients, random),
          arrivalMs: e.atMs,
          inputTokens: e.inputTokens,
          outputTokens: e.outputTokens,
          maxNewTokens: Math.max(e.outputTokens, e.maxNewTokens ?? e.outputTokens),
        });
      });
      return out;
    }
    default: {
      const never: never = spec;
      throw new BouquetError('internal', `unknown arrival process ${JSON.stringify(never)}`);
    }
  }
}
