// Request arrivals for a run: Poisson, bursty (given coefficient of variation) or a trace, drawn from a seeded stream.
import { BouquetError } from '../core/errors/index.ts';
import type { ClientSpec } from '../core/swarm/index.ts';
import { exponential, gamma, variateWithCv, type Random } from './random.ts';

/** One request of a run. */
export interface SimRequest {
  /** 0-based, in arrival order. */
  id: number;
  clientId: string;
  /** Arrival time, ms from the start of the run. */
  arrivalMs: number;
  /** l_in, tokens. */
  inputTokens: number;
  /** l_out, tokens (≥ 1). */
  outputTokens: number;
}

/** One line of an arrival trace. */
export interface TraceEntry {
  /** Arrival time, ms from the start of the trace. */
  atMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Client id; drawn by weight when absent. */
  clientId?: string;
}

/** How requests arrive. */
export type ArrivalSpec =
  | { process: 'poisson'; ratePerS: number; inputTokens: number; outputTokens: number; count: number }
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
      inputTokens: number;
      outputTokens: number;
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

/** The requests of one run, in arrival order; every draw comes from `random`. */
export function generateRequests(spec: ArrivalSpec, clients: readonly ClientSpec[], random: Random): SimRequest[] {
  const out: SimRequest[] = [];
  switch (spec.process) {
    case 'poisson':
    case 'bursty': {
      const meanGapMs = 1000 / spec.ratePerS;
      let t = 0;
      for (let i = 0; i < spec.count; i++) {
        if (spec.process === 'poisson') t += exponential(random, meanGapMs);
        else if (spec.law === 'gamma') t += gamma(random, 1 / (spec.cv * spec.cv), meanGapMs * spec.cv * spec.cv);
        else t += variateWithCv(random, meanGapMs, spec.cv);
        out.push({ id: i, clientId: pickClient(clients, random), arrivalMs: t, inputTokens: spec.inputTokens, outputTokens: spec.outputTokens });
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
