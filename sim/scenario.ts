// Scenario files (docs/scenarios.md): parsed and validated into a swarm snapshot, arrivals, churn and policy combos.
import { BouquetError, registerErrorKind } from '../core/errors/index.ts';
import type { ClientSpec, LinearMs, NetworkSpec, ServerSpec, SwarmSnapshot } from '../core/swarm/index.ts';
import { policyCombos, type PolicyCombo } from '../core/policies/index.ts';
import type { ArrivalSpec, LengthLaw, TraceEntry } from './arrivals.ts';
import type { ChurnSpec } from './engine.ts';
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

export type { PolicyCombo } from '../core/policies/index.ts';

/** A validated scenario. */
export interface Scenario {
  name: string;
  description: string;
  snapshot: SwarmSnapshot;
  arrivals: ArrivalSpec;
  churn?: ChurnSpec;
  /** The service model's options (docs/scenarios.md "Service"); absent: nominal times, whole-slot reservation. */
  service?: ServiceSpec;
  /** Policy combos by name (the built-in ones plus the scenario's own). */
  policies: Record<string, PolicyCombo>;
  /** Policies `compare` runs by default. */
  compare: string[];
}

/** The built-in policy names (core/policies' combos): a policy in the CLI is a placement + routing pair. */
export const builtinPolicies: Readonly<Record<string, PolicyCombo>> = policyCombos;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, field: string): Json {
  if (!isObject(v)) throw new ScenarioError(field, 'must be an object');
  return v;
}

function array(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new ScenarioError(field, 'must be an array');
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ScenarioError(field, 'must be a non-empty string');
  return v;
}

function positive(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ScenarioError(field, 'must be a positive number');
  return v;
}

function nonNegative(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ScenarioError(field, 'must be a number ≥ 0');
  return v;
}

function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ScenarioError(field, 'must be a positive integer');
  return v;
}

function optional<T>(o: Json, key: string, field: string, read: (v: unknown, f: string) => T): T | undefined {
  return o[key] === undefined ? undefined : read(o[key], `${field}.${key}`);
}

function linear(v: unknown, field: string): LinearMs {
  const o = object(v, field);
  return { perTokenMs: nonNegative(o.perTokenMs, `${field}.perTokenMs`), fixedMs: nonNegative(o.fixedMs, `${field}.fixedMs`) };
}

function rttTable(v: unknown, field: string): Record<string, Record<string, number>> {
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

function lookupSymmetric(table: Record<string, Record<string, number>> | undefined, a: string, b: string): number | undefined {
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

function readTrace(file: string, field: string, readTextFile: ScenarioFileReader | undefined): TraceEntry[] {
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
function declaredMaxNew(v: unknown, outputTokens: number, field: string): number {
  const n = positiveInt(v, field);
  if (n < outputTokens) throw new ScenarioError(field, `must be ≥ the request's outputTokens (${outputTokens}): a client declares at least what it uses`);
  return n;
}

/** A request length: a count, or {"law": "lognormal", "median", "sigma", "min", "max"} (docs/scenarios.md). */
function lengthLaw(v: unknown, field: string, minTokens: number): LengthLaw {
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

function traceEntries(v: unknown, field: string, clients: Set<string>): TraceEntry[] {
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

function combo(v: unknown, field: string): PolicyCombo {
  const o = object(v, field);
  const c: PolicyCombo = { placement: str(o.placement, `${field}.placement`), routing: str(o.routing, `${field}.routing`) };
  if (o.placementOptions !== undefined) c.placementOptions = object(o.placementOptions, `${field}.placementOptions`);
  if (o.routingOptions !== undefined) c.routingOptions = object(o.routingOptions, `${field}.routingOptions`);
  return c;
}

/**
 * Validates a parsed scenario document; a trace file it names is read through
 * `options.readTextFile`. Throws ScenarioError naming the first bad field.
 */
export function parseScenario(doc: unknown, options: ParseScenarioOptions = {}): Scenario {
  const root = object(doc, 'scenario');
  const name = str(root.name, 'scenario.name');
  const description = root.description === undefined ? '' : str(root.description, 'scenario.description');

  const m = object(root.model, 'scenario.model');
  const model: SwarmSnapshot['model'] = {
    numBlocks: positiveInt(m.numBlocks, 'scenario.model.numBlocks'),
    blockBytes: positive(m.blockBytes, 'scenario.model.blockBytes'),
    cacheBytesPerBlock: positive(m.cacheBytesPerBlock, 'scenario.model.cacheBytesPerBlock'),
  };
  const hiddenSize = optional(m, 'hiddenSize', 'scenario.model', positiveInt);
  if (hiddenSize !== undefined) model.hiddenSize = hiddenSize;
  const kvDim = optional(m, 'kvDim', 'scenario.model', positiveInt);
  if (kvDim !== undefined) model.kvDim = kvDim;
  const bpv = optional(m, 'cacheBytesPerValue', 'scenario.model', positive);
  if (bpv !== undefined) model.cacheBytesPerValue = bpv;

  const servers: ServerSpec[] = [];
  const ids = new Set<string>();
  const serverList = array(root.servers, 'scenario.servers');
  if (serverList.length === 0) throw new ScenarioError('scenario.servers', 'must list at least one server');
  serverList.forEach((sv, i) => {
    const f = `scenario.servers[${i}]`;
    const o = object(sv, f);
    const id = str(o.id, `${f}.id`);
    const count = o.count === undefined ? 1 : positiveInt(o.count, `${f}.count`);
    const base: Omit<ServerSpec, 'id'> = {
      memoryBytes: positive(o.memoryBytes, `${f}.memoryBytes`),
      decodeMsPerBlock: positive(o.decodeMsPerBlock, `${f}.decodeMsPerBlock`),
      prefillMsPerBlock: linear(o.prefillMsPerBlock, `${f}.prefillMsPerBlock`),
    };
    const region = optional(o, 'region', f, str);
    if (region !== undefined) base.region = region;
    const rps = optional(o, 'networkRps', f, positive);
    if (rps !== undefined) base.networkRps = rps;
    for (let k = 1; k <= count; k++) {
      const sid = count === 1 ? id : `${id}-${k}`;
      if (ids.has(sid)) throw new ScenarioError(`${f}.id`, `server id '${sid}' appears twice`);
      ids.add(sid);
      servers.push({ ...base, prefillMsPerBlock: { ...base.prefillMsPerBlock }, id: sid });
    }
  });

  const clients: ClientSpec[] = array(root.clients, 'scenario.clients').map((cv, i) => {
    const f = `scenario.clients[${i}]`;
    const o = object(cv, f);
    const c: ClientSpec = { id: str(o.id, `${f}.id`) };
    const region = optional(o, 'region', f, str);
    if (region !== undefined) c.region = region;
    const w = optional(o, 'weight', f, nonNegative);
    if (w !== undefined) c.weight = w;
    return c;
  });
  if (clients.length === 0) throw new ScenarioError('scenario.clients', 'must list at least one client');
  const clientIds = new Set(clients.map((c) => c.id));
  if (clientIds.size !== clients.length) throw new ScenarioError('scenario.clients', 'client ids must be unique');

  const n = object(root.network, 'scenario.network');
  const regionRtt = n.regionRttMs === undefined ? undefined : rttTable(n.regionRttMs, 'scenario.network.regionRttMs');
  const explicitCs = n.clientServerRttMs === undefined ? undefined : rttTable(n.clientServerRttMs, 'scenario.network.clientServerRttMs');
  const explicitSs = n.serverServerRttMs === undefined ? undefined : rttTable(n.serverServerRttMs, 'scenario.network.serverServerRttMs');
  const clientServerRttMs: Record<string, Record<string, number>> = {};
  for (const c of clients) {
    const row: Record<string, number> = {};
    for (const s of servers) {
      let rtt = explicitCs?.[c.id]?.[s.id];
      if (rtt === undefined && c.region !== undefined && s.region !== undefined) rtt = lookupSymmetric(regionRtt, c.region, s.region);
      if (rtt === undefined) {
        throw new ScenarioError(
          'scenario.network',
          `no RTT from client '${c.id}' (region ${c.region ?? 'none'}) to server '${s.id}' (region ${s.region ?? 'none'}): add it to regionRttMs or clientServerRttMs`,
        );
      }
      row[s.id] = rtt;
    }
    clientServerRttMs[c.id] = row;
  }
  let serverServerRttMs: Record<string, Record<string, number>> | undefined;
  if (explicitSs !== undefined || regionRtt !== undefined) {
    serverServerRttMs = {};
    for (const a of servers) {
      const row: Record<string, number> = {};
      for (const b of servers) {
        let rtt = explicitSs?.[a.id]?.[b.id] ?? explicitSs?.[b.id]?.[a.id];
        if (rtt === undefined && a.region !== undefined && b.region !== undefined) rtt = lookupSymmetric(regionRtt, a.region, b.region);
        if (rtt !== undefined) row[b.id] = rtt;
      }
      serverServerRttMs[a.id] = row;
    }
  }
  const network: NetworkSpec = {
    clientServerRttMs,
    messageOverheadMs: nonNegative(n.messageOverheadMs, 'scenario.network.messageOverheadMs'),
    prefillOverheadMs: linear(n.prefillOverheadMs, 'scenario.network.prefillOverheadMs'),
  };
  if (serverServerRttMs !== undefined) network.serverServerRttMs = serverServerRttMs;

  const w = object(root.workload, 'scenario.workload');
  const workload: SwarmSnapshot['workload'] = {
    arrivalRatePerS: positive(w.arrivalRatePerS, 'scenario.workload.arrivalRatePerS'),
    meanInputTokens: nonNegative(w.meanInputTokens, 'scenario.workload.meanInputTokens'),
    meanOutputTokens: positiveInt(w.meanOutputTokens, 'scenario.workload.meanOutputTokens'),
  };
  const R = optional(w, 'concurrentRequests', 'scenario.workload', positiveInt);
  if (R !== undefined) workload.concurrentRequests = R;

  const a = object(root.arrivals, 'scenario.arrivals');
  const process = str(a.process, 'scenario.arrivals.process');
  const inputTokens = a.inputTokens === undefined ? workload.meanInputTokens : lengthLaw(a.inputTokens, 'scenario.arrivals.inputTokens', 0);
  const outputTokens = a.outputTokens === undefined ? workload.meanOutputTokens : lengthLaw(a.outputTokens, 'scenario.arrivals.outputTokens', 1);
  const longestOutput = typeof outputTokens === 'number' ? outputTokens : outputTokens.max;
  // The declaration defaults to the longest output the law can draw, so it always holds.
  const maxNewTokens = a.maxNewTokens === undefined ? longestOutput : positiveInt(a.maxNewTokens, 'scenario.arrivals.maxNewTokens');
  if (typeof outputTokens === 'number' && maxNewTokens < outputTokens) {
    throw new ScenarioError('scenario.arrivals.maxNewTokens', `must be ≥ outputTokens (${outputTokens}): a client declares at least what it uses`);
  }
  const lengths = { inputTokens, outputTokens, maxNewTokens };
  const ratePerS = a.ratePerS === undefined ? workload.arrivalRatePerS : positive(a.ratePerS, 'scenario.arrivals.ratePerS');
  let arrivals: ArrivalSpec;
  switch (process) {
    case 'poisson':
      arrivals = { process, ratePerS, ...lengths, count: positiveInt(a.count, 'scenario.arrivals.count') };
      break;
    case 'bursty':
      arrivals = { process, ratePerS, cv: positive(a.cv, 'scenario.arrivals.cv'), ...lengths, count: positiveInt(a.count, 'scenario.arrivals.count') };
      if (a.law !== undefined) {
        if (a.law !== 'gamma' && a.law !== 'hyperexponential') {
          throw new ScenarioError('scenario.arrivals.law', `must be 'hyperexponential' or 'gamma' (got ${JSON.stringify(a.law)})`);
        }
        arrivals.law = a.law;
      }
      break;
    case 'trace': {
      let entries: TraceEntry[];
      if (a.file !== undefined) entries = readTrace(str(a.file, 'scenario.arrivals.file'), 'scenario.arrivals.file', options.readTextFile);
      else entries = traceEntries(a.entries, 'scenario.arrivals.entries', clientIds);
      if (entries.length === 0) throw new ScenarioError('scenario.arrivals', 'the trace has no requests');
      for (const [i, e] of entries.entries()) {
        if (e.clientId !== undefined && !clientIds.has(e.clientId)) {
          throw new ScenarioError(`scenario.arrivals (trace line ${i + 2})`, `unknown client '${e.clientId}'`);
        }
      }
      arrivals = { process, entries };
      break;
    }
    default:
      throw new ScenarioError('scenario.arrivals.process', `must be 'poisson', 'bursty' or 'trace' (got '${process}')`);
  }

  let churn: ChurnSpec | undefined;
  if (root.churn !== undefined) {
    const c = object(root.churn, 'scenario.churn');
    churn = {
      meanOnlineMs: positive(c.meanOnlineS, 'scenario.churn.meanOnlineS') * 1000,
      meanOfflineMs: positive(c.meanOfflineS, 'scenario.churn.meanOfflineS') * 1000,
    };
    if (c.serverIds !== undefined) {
      churn.serverIds = array(c.serverIds, 'scenario.churn.serverIds').map((v, i) => {
        const id = str(v, `scenario.churn.serverIds[${i}]`);
        if (!ids.has(id)) throw new ScenarioError(`scenario.churn.serverIds[${i}]`, `unknown server '${id}'`);
        return id;
      });
    } else if (c.regions !== undefined) {
      const regions = new Set(array(c.regions, 'scenario.churn.regions').map((v, i) => str(v, `scenario.churn.regions[${i}]`)));
      churn.serverIds = servers.filter((s) => s.region !== undefined && regions.has(s.region)).map((s) => s.id);
    }
    if (c.maxMovesPerRound !== undefined) {
      const moves = c.maxMovesPerRound;
      if (typeof moves !== 'number' || !Number.isInteger(moves) || moves < 0) {
        throw new ScenarioError('scenario.churn.maxMovesPerRound', 'must be an integer ≥ 0');
      }
      churn.maxMovesPerRound = moves;
    }
  }

  const service = root.service === undefined ? undefined : serviceSpec(root.service, 'scenario.service');

  const policies: Record<string, PolicyCombo> = { ...builtinPolicies };
  if (root.policies !== undefined) {
    for (const [k, v] of Object.entries(object(root.policies, 'scenario.policies'))) policies[k] = combo(v, `scenario.policies.${k}`);
  }
  const compare =
    root.compare === undefined
      ? ['petals', 'bprr', 'followup']
      : array(root.compare, 'scenario.compare').map((v, i) => str(v, `scenario.compare[${i}]`));

  const scenario: Scenario = {
    name,
    description,
    snapshot: { model, servers, clients, network, workload },
    arrivals,
    policies,
    compare,
  };
  if (churn !== undefined) scenario.churn = churn;
  if (service !== undefined) scenario.service = service;
  return scenario;
}

/**
 * The `service` block: {"speedCv", "stepJitterCv", "contention": "browser" | {"baseTaus",
 * "perSessionTaus"}, "reservation": "slot" | "declared"}, every field optional.
 */
function serviceSpec(v: unknown, field: string): ServiceSpec {
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

function bounded(v: number, field: string, max: number): number {
  if (v > max) throw new ScenarioError(field, `must be ≤ ${max}`);
  return v;
}

function contentionSpec(v: unknown, field: string): ContentionSpec {
  if (v === 'browser') return { ...browserContention };
  const o = object(v, field);
  const c = { baseTaus: nonNegative(o.baseTaus, `${field}.baseTaus`), perSessionTaus: nonNegative(o.perSessionTaus, `${field}.perSessionTaus`) };
  if (c.baseTaus + c.perSessionTaus <= 0) throw new ScenarioError(field, 'a step must take time: baseTaus + perSessionTaus > 0');
  return c;
}
