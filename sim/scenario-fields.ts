// Field readers of scenario files: bounded numbers, lengths, traces and the service block, each naming the bad field.
import { BouquetError, registerErrorKind } from '../core/errors/index.ts';
import type { LinearMs } from '../core/swarm/index.ts';
import { maxClientMsPerToken } from '../core/perf/index.ts';
import type { PolicyCombo } from '../core/policies/index.ts';
import type { LengthLaw, TraceEntry } from './arrivals.ts';
import { browserContention, type ContentionSpec, type ServiceSpec } from './service.ts';

/** A scenario that cannot be used; the message names the field (`scenario.servers[3].memoryBytes: …`). */
export class ScenarioError extends BouquetError<'bad-scenario'> {
  constructor(field: string, problem: string) {
    super('bad-scenario', `${field}: ${problem}`, { field, problem });
  }

  /** Dotted path of the offending field (`scenario.servers[3].memoryBytes`). */
  get field(): string {
    return String(this.data?.field);
  }

  /** What is wrong with it. */
  get problem(): string {
    return String(this.data?.problem);
  }
}
registerErrorKind('ScenarioError', ScenarioError);

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function object(v: unknown, field: string): Json {
  if (!isObject(v)) throw new ScenarioError(field, 'must be an object');
  return v;
}

export function array(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new ScenarioError(field, 'must be an array');
  return v;
}

export function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ScenarioError(field, 'must be a non-empty string');
  return v;
}

export function positive(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ScenarioError(field, 'must be a positive number');
  return v;
}

export function nonNegative(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ScenarioError(field, 'must be a number ≥ 0');
  return v;
}

export function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ScenarioError(field, 'must be a positive integer');
  return v;
}

export function optional<T>(o: Json, key: string, field: string, read: (v: unknown, f: string) => T): T | undefined {
  return o[key] === undefined ? undefined : read(o[key], `${field}.${key}`);
}

export function linear(v: unknown, field: string): LinearMs {
  const o = object(v, field);
  return { perTokenMs: nonNegative(o.perTokenMs, `${field}.perTokenMs`), fixedMs: nonNegative(o.fixedMs, `${field}.fixedMs`) };
}

export function rttTable(v: unknown, field: string): Record<string, Record<string, number>> {
  const o = object(v, field);
  const out: Record<string, Record<string, number>> = {};
  for (const [a, row] of Object.entries(o)) {
    const r = object(row, `${field}.${a}`);
    out[a] = {};
    for (const [b, ms] of Object.entries(r)) {
      const rowOut = out[a];
      if (rowOut !== undefined) rowOut[b] = nonNegative(ms, `${field}.${a}.${b}`);
    }
  }
  return out;
}

export function lookupSymmetric(table: Record<string, Record<string, number>> | undefined, a: string, b: string): number | undefined {
  return table?.[a]?.[b] ?? table?.[b]?.[a];
}

/**
 * Reads a file a scenario names (a trace), by the path as written in the scenario; the caller
 * resolves it (the Node loader: against the scenario file's folder). The simulator stays pure.
 */
export type ScenarioFileReader = (path: string) => string;

/** How `parseScenario` reaches files the scenario names. */
export interface ParseScenarioOptions {
  /** Without one, a scenario that names a trace file is refused (inline `entries` still work). */
  readTextFile?: ScenarioFileReader;
}

export function readTrace(file: string, field: string, readTextFile: ScenarioFileReader | undefined): TraceEntry[] {
  if (readTextFile === undefined) throw new ScenarioError(field, `cannot read trace file ${file} here (no file reader: load the scenario with loadScenario)`);
  let text: string;
  try {
    text = readTextFile(file);
  } catch {
    throw new ScenarioError(field, `cannot read trace file ${file}`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0 && !l.startsWith('#'));
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const col = (name: string): number => header.indexOf(name);
  const [at, inp, outp, client, maxNew] = [col('atMs'), col('inputTokens'), col('outputTokens'), col('clientId'), col('maxNewTokens')];
  if (at < 0 || inp < 0 || outp < 0) throw new ScenarioError(field, `trace ${file} needs a header with atMs,inputTokens,outputTokens[,maxNewTokens][,clientId]`);
  return lines.map((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    const f = `${field} (${file} line ${i + 2})`;
    const entry: TraceEntry = {
      atMs: nonNegative(Number(cells[at]), `${f} atMs`),
      inputTokens: nonNegative(Number(cells[inp]), `${f} inputTokens`),
      outputTokens: positiveInt(Number(cells[outp]), `${f} outputTokens`),
    };
    const m = maxNew >= 0 ? cells[maxNew] : undefined;
    if (m !== undefined && m.length > 0) entry.maxNewTokens = declaredMaxNew(Number(m), entry.outputTokens, `${f} maxNewTokens`);
    const c = client >= 0 ? cells[client] : undefined;
    if (c !== undefined && c.length > 0) entry.clientId = c;
    return entry;
  });
}

/** A declared maximum of new tokens: a positive integer no smaller than what the request generates. */
export function declaredMaxNew(v: unknown, outputTokens: number, field: string): number {
  const n = positiveInt(v, field);
  if (n < outputTokens) throw new ScenarioError(field, `must be ≥ the request's outputTokens (${outputTokens}): a client declares at least what it uses`);
  return n;
}

/** A request length: a count, or {"law": "lognormal", "median", "sigma", "min", "max"} (docs/scenarios.md). */
export function lengthLaw(v: unknown, field: string, minTokens: number): LengthLaw {
  if (typeof v === 'number') {
    if (minTokens >= 1) return positiveInt(v, field);
    return nonNegative(v, field);
  }
  const o = object(v, field);
  if (o.law !== 'lognormal') throw new ScenarioError(`${field}.law`, `must be 'lognormal' (got ${JSON.stringify(o.law)})`);
  const min = nonNegative(o.min, `${field}.min`);
  const max = positive(o.max, `${field}.max`);
  if (!Number.isInteger(min) || min < minTokens) throw new ScenarioError(`${field}.min`, `must be an integer ≥ ${minTokens}`);
  if (!Number.isInteger(max) || max < min) throw new ScenarioError(`${field}.max`, 'must be an integer ≥ min');
  return { law: 'lognormal', median: positive(o.median, `${field}.median`), sigma: nonNegative(o.sigma, `${field}.sigma`), min, max };
}

export function traceEntries(v: unknown, field: string, clients: Set<string>): TraceEntry[] {
  return array(v, field).map((e, i) => {
    const f = `${field}[${i}]`;
    const o = object(e, f);
    const entry: TraceEntry = {
      atMs: nonNegative(o.atMs, `${f}.atMs`),
      inputTokens: nonNegative(o.inputTokens, `${f}.inputTokens`),
      outputTokens: positiveInt(o.outputTokens, `${f}.outputTokens`),
    };
    const maxNew = optional(o, 'maxNewTokens', f, positiveInt);
    if (maxNew !== undefined) entry.maxNewTokens = declaredMaxNew(maxNew, entry.outputTokens, `${f}.maxNewTokens`);
    const c = optional(o, 'clientId', f, str);
    if (c !== undefined) {
      if (!clients.has(c)) throw new ScenarioError(`${f}.clientId`, `unknown client '${c}'`);
      entry.clientId = c;
    }
    return entry;
  });
}

export function combo(v: unknown, field: string): PolicyCombo {
  const o = object(v, field);
  const c: PolicyCombo = { placement: str(o.placement, `${field}.placement`), routing: str(o.routing, `${field}.routing`) };
  if (o.placementOptions !== undefined) c.placementOptions = object(o.placementOptions, `${field}.placementOptions`);
  if (o.routingOptions !== undefined) c.routingOptions = object(o.routingOptions, `${field}.routingOptions`);
  // Admission and re-placement, as core/policies' combos carry them (a live swarm's export names them too).
  if (o.reservation !== undefined) {
    if (o.reservation !== 'slot' && o.reservation !== 'declared') throw new ScenarioError(`${field}.reservation`, `must be 'slot' or 'declared'`);
    c.reservation = o.reservation;
  }
  for (const k of ['retune', 'rebalance'] as const) {
    const b = o[k];
    if (b === undefined) continue;
    if (typeof b !== 'boolean') throw new ScenarioError(`${field}.${k}`, 'must be true or false');
    c[k] = b;
  }
  return c;
}

/**
 * The `service` block: {"speedCv", "stepJitterCv", "contention": "browser" | {"baseTaus",
 * "perSessionTaus"}, "reservation": "slot" | "declared"}, every field optional.
 */
export function serviceSpec(v: unknown, field: string): ServiceSpec {
  const o = object(v, field);
  for (const k of Object.keys(o)) {
    if (!['speedCv', 'stepJitterCv', 'contention', 'reservation'].includes(k)) throw new ScenarioError(`${field}.${k}`, 'unknown service option');
  }
  const out: ServiceSpec = {};
  const speedCv = optional(o, 'speedCv', field, nonNegative);
  if (speedCv !== undefined) out.speedCv = bounded(speedCv, `${field}.speedCv`, 2);
  const jitter = optional(o, 'stepJitterCv', field, nonNegative);
  if (jitter !== undefined) out.stepJitterCv = bounded(jitter, `${field}.stepJitterCv`, 2);
  if (o.contention !== undefined) out.contention = contentionSpec(o.contention, `${field}.contention`);
  if (o.reservation !== undefined) {
    if (o.reservation !== 'slot' && o.reservation !== 'declared') throw new ScenarioError(`${field}.reservation`, `must be 'slot' or 'declared'`);
    out.reservation = o.reservation;
  }
  return out;
}

export function bounded(v: number, field: string, max: number): number {
  if (v > max) throw new ScenarioError(field, `must be ≤ ${max}`);
  return v;
}

/**
 * network.clientMsPerToken: per listed client, its own work per generated token, ms in
 * [0, maxClientMsPerToken]; an unknown client or a bad value names the field.
 */
export function clientTerms(v: unknown, field: string, clients: ReadonlySet<string>): Record<string, number> {
  const o = object(v, field);
  const out: Record<string, number> = {};
  for (const [id, ms] of Object.entries(o)) {
    if (!clients.has(id)) throw new ScenarioError(`${field}.${id}`, `unknown client '${id}'`);
    out[id] = bounded(nonNegative(ms, `${field}.${id}`), `${field}.${id}`, maxClientMsPerToken);
  }
  return out;
}

export function contentionSpec(v: unknown, field: string): ContentionSpec {
  if (v === 'browser') return { ...browserContention };
  const o = object(v, field);
  const c = { baseTaus: nonNegative(o.baseTaus, `${field}.baseTaus`), perSessionTaus: nonNegative(o.perSessionTaus, `${field}.perSessionTaus`) };
  if (c.baseTaus + c.perSessionTaus <= 0) throw new ScenarioError(field, 'a step must take time: baseTaus + perSessionTaus > 0');
  return c;
}

