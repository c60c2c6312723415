// Scenario files (docs/scenarios.md): parsed and validated into a swarm snapshot, arrivals, churn and policy combos.
import type { ClientSpec, NetworkSpec, ServerSpec, SwarmSnapshot } from '../core/swarm/index.ts';
import { policyCombos, type PolicyCombo } from '../core/policies/index.ts';
import type { ArrivalSpec, TraceEntry } from './arrivals.ts';
import type { ChurnSpec } from './engine.ts';
import type { ServiceSpec } from './service.ts';
import {
  ScenarioError, type ParseScenarioOptions, object, array, str, positive, nonNegative, positiveInt, optional, linear, rttTable, lookupSymmetric, readTrace, lengthLaw, traceEntries, combo, serviceSpec,
  bounded, clientTerms,
} from './scenario-fields.ts';
import { maxMessageOverheadMs } from '../core/perf/index.ts';

export { ScenarioError, type ScenarioFileReader, type ParseScenarioOptions } from './scenario-fields.ts';

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
    messageOverheadMs: bounded(nonNegative(n.messageOverheadMs, 'scenario.network.messageOverheadMs'), 'scenario.network.messageOverheadMs', maxMessageOverheadMs),
    prefillOverheadMs: linear(n.prefillOverheadMs, 'scenario.network.prefillOverheadMs'),
  };
  if (network.prefillOverheadMs.fixedMs > maxMessageOverheadMs) {
    throw new ScenarioError('scenario.network.prefillOverheadMs.fixedMs', `must be ≤ ${maxMessageOverheadMs} ms`);
  }
  if (n.clientMsPerToken !== undefined) network.clientMsPerToken = clientTerms(n.clientMsPerToken, 'scenario.network.clientMsPerToken', clientIds);
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

