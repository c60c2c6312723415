// GET /api/scenario: the live swarm as a scenario file (docs/scenarios.md) that `bouquet sim --from` replays.
import type { Request, Response } from 'express';
import type { SwarmSnapshot } from '../core/swarm/index.ts';
import type { PolicyCombo } from '../core/policies/index.ts';
import { isBouquetError } from '../core/errors/index.ts';
import { apiErrorBody, httpStatusForCode, type ApiErrorBody } from '../core/api/index.ts';
import type { SwarmModels } from './swarm-models.ts';

/** Most requests an exported scenario's arrivals may ask the simulator for. */
export const maxScenarioRequests = 10_000;

/** Most clients an exported scenario lists (each brings a row of RTTs to every volunteer). */
export const maxScenarioClients = 64;

/** What the coordinator knows that the export needs (Coordinator.scenarioInputs). */
export interface ScenarioInputs {
  snapshot: SwarmSnapshot;
  /** Per client, its latest RTT to each volunteer, ms. */
  clientRttsMs: Record<string, Record<string, number>>;
  /** Per client that reported it, its own work per generated token (fitted, bounded), ms. */
  clientMsPerToken?: Record<string, number>;
  placementPolicy: string;
  routingPolicy: string;
  /** The combo in force with its options and admission (core/policies), when the coordinator knows it. */
  combo?: PolicyCombo;
}

/**
 * The scenario document for a live swarm: its volunteers with planned speeds and memory, each
 * client that reported RTTs, up to maxScenarioClients (a client's missing volunteer gets the planner's typical RTT),
 * with its own per-token work where it reported it, the fitted per-message and prefill overheads, the
 * planned workload as Poisson arrivals of `requests` requests, and the policies in force as "live".
 */
export function swarmScenario(inputs: ScenarioInputs, name: string, requests: number): Record<string, unknown> {
  const { snapshot } = inputs;
  const typical = Object.values(snapshot.network.clientServerRttMs)[0] ?? {};
  // At most maxScenarioClients clients (those that reported the most RTTs): the RTT table is clients × servers.
  const reported = Object.entries(inputs.clientRttsMs)
    .map(([id, row]) => [id, row, snapshot.servers.filter((s) => row[s.id] !== undefined).length] as const)
    .filter(([, , n]) => n > 0)
    .sort((a, b) => b[2] - a[2])
    .slice(0, maxScenarioClients)
    .map(([id, row]) => [id, row] as const);
  const rows = reported.length > 0 ? reported : [['typical-client', typical] as const];
  const clientServerRttMs: Record<string, Record<string, number>> = {};
  for (const [clientId, row] of rows) {
    clientServerRttMs[clientId] = Object.fromEntries(snapshot.servers.map((s) => [s.id, row[s.id] ?? typical[s.id] ?? 0]));
  }
  // Each exported client's own per-token work, where it reported one (the typical client has none).
  const clientMsPerToken = Object.fromEntries(rows.flatMap(([id]) => {
    const ms = inputs.clientMsPerToken?.[id];
    return ms === undefined ? [] : [[id, ms] as const];
  }));
  const w = snapshot.workload;
  return {
    name,
    description: `Exported from a live Bouquet swarm: ${snapshot.servers.length} volunteers, ${rows.length} clients with their measured RTTs, planned speeds and workload.`,
    model: snapshot.model,
    servers: snapshot.servers.map((s) => ({ id: s.id, memoryBytes: s.memoryBytes, decodeMsPerBlock: s.decodeMsPerBlock, prefillMsPerBlock: s.prefillMsPerBlock })),
    clients: rows.map(([id]) => ({ id })),
    network: {
      clientServerRttMs,
      ...(snapshot.network.serverServerRttMs === undefined ? {} : { serverServerRttMs: snapshot.network.serverServerRttMs }),
      messageOverheadMs: snapshot.network.messageOverheadMs,
      prefillOverheadMs: snapshot.network.prefillOverheadMs,
      ...(Object.keys(clientMsPerToken).length > 0 ? { clientMsPerToken } : {}),
    },
    // The scenario format counts output tokens in whole tokens; the live mean over recent requests is fractional.
    workload: { ...w, meanOutputTokens: Math.max(1, Math.round(w.meanOutputTokens)) },
    arrivals: { process: 'poisson', ratePerS: w.arrivalRatePerS, inputTokens: Math.round(w.meanInputTokens), outputTokens: Math.max(1, Math.round(w.meanOutputTokens)), count: requests },
    policies: { live: inputs.combo ?? { placement: inputs.placementPolicy, routing: inputs.routingPolicy } },
    compare: ['live'],
  };
}

function sendError(res: Response, error: ApiErrorBody): void {
  res.status(httpStatusForCode(error.code)).json({ kind: 'error', error });
}

/** The handler of GET /api/scenario?modelId=…&requests=N (default 100). */
export function scenarioHandler(models: SwarmModels): (req: Request, res: Response) => void {
  return (req, res) => {
    const rawRequests = req.query.requests;
    const requests = rawRequests === undefined ? 100 : Number(rawRequests);
    if (!Number.isInteger(requests) || requests < 1 || requests > maxScenarioRequests) {
      sendError(res, { code: 'bad-request', message: `requests must be an integer in [1, ${maxScenarioRequests}]`, field: 'requests' });
      return;
    }
    const modelId = req.query.modelId;
    if (modelId !== undefined && typeof modelId !== 'string') {
      sendError(res, { code: 'bad-request', message: 'modelId must be one string', field: 'modelId' });
      return;
    }
    try {
      const swarm = models.get(modelId);
      const inputs = swarm.coordinator.scenarioInputs();
      if (inputs.snapshot.servers.length === 0) {
        sendError(res, { code: 'no-route', message: 'no volunteer is registered: a scenario needs at least one server' });
        return;
      }
      res.json(swarmScenario(inputs, `live-${swarm.model.info.id}`, requests));
    } catch (e) {
      if (!isBouquetError(e)) throw e;
      sendError(res, apiErrorBody(e));
    }
  };
}
