// The models of one swarm: one Coordinator per served model, and the routing of API calls and sockets to them by `modelId`.
import {
  CoordinatorApiError,
  modelCoverage,
  type MeasuredTimes,
  type ModelsList,
  type RouteRequest,
  type RouteResponse,
} from '../core/api/index.ts';
import { volunteerModelPick } from '../core/policies/index.ts';
import type { Coordinator, SwarmListener, VolunteerConnection, VolunteerLink } from './coordinator/index.ts';
import { ModelFolderError, type ServedModel } from './models/index.ts';

/** One served model and the coordinator of its swarm. */
export interface ModelSwarm {
  model: ServedModel;
  coordinator: Coordinator;
}

// A register naming a model, read before validation (the coordinator validates the whole message).
function registerModelId(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as { type?: unknown; modelId?: unknown };
  return m.type === 'register' && typeof m.modelId === 'string' ? m.modelId : undefined;
}

/**
 * Every model of the server, in the order `serve --model` named them; the first is where a
 * message without `modelId` goes, so single-model clients never name one. Lease and ticket ids
 * are random UUIDs, so a release, renewal or poll finds its coordinator by asking each in turn.
 */
export class SwarmModels {
  private readonly byId = new Map<string, ModelSwarm>();
  /** The first model: where a message without `modelId` goes. */
  readonly first: ModelSwarm;

  constructor(swarms: readonly ModelSwarm[]) {
    const first = swarms[0];
    if (first === undefined) throw new ModelFolderError('no model to serve: give at least one --model');
    this.first = first;
    for (const s of swarms) {
      const id = s.model.info.id;
      if (this.byId.has(id)) throw new ModelFolderError(`two models are served as '${id}': each --model needs its own id (folder name)`);
      this.byId.set(id, s);
    }
  }

  /** Model ids, in order. */
  get ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Every model's swarm, in order. */
  all(): ModelSwarm[] {
    return [...this.byId.values()];
  }

  /** The swarm of `modelId` (the first model's when absent). Throws CoordinatorApiError 'model-mismatch' for a model not served here. */
  get(modelId: string | undefined, field = 'modelId'): ModelSwarm {
    if (modelId === undefined) return this.first;
    const s = this.byId.get(modelId);
    if (s === undefined) {
      throw new CoordinatorApiError('model-mismatch', `this server serves ${this.ids.map((id) => `'${id}'`).join(', ')}, not '${modelId.slice(0, 80)}'`, field);
    }
    return s;
  }

  /** A route request goes to its model's coordinator (`from.address`: the caller's, for fair use); an unserved model is refused with 'model-mismatch'. */
  requestRoute(request: RouteRequest, from: { address?: string } = {}): RouteResponse {
    let swarm: ModelSwarm;
    try {
      swarm = this.get(request.modelId);
    } catch (e) {
      if (e instanceof CoordinatorApiError) return { kind: 'error', error: e.toWire() };
      throw e;
    }
    return swarm.coordinator.requestRoute(request, from);
  }

  /** A ticket poll, answered by the coordinator that issued the ticket (an unknown ticket: the first's 'unknown-ticket'). */
  async pollTicket(ticketId: string, waitMs: number): Promise<RouteResponse> {
    if (this.byId.size === 1) return this.first.coordinator.pollTicket(ticketId, waitMs);
    for (const s of this.byId.values()) {
      // A zero wait only reads the ticket (and marks it polled, as the client's poll does anyway).
      const now = await s.coordinator.pollTicket(ticketId, 0);
      if (now.kind === 'error' && now.error.code === 'unknown-ticket') continue;
      return now.kind === 'queued' && waitMs > 0 ? s.coordinator.pollTicket(ticketId, waitMs) : now;
    }
    return this.first.coordinator.pollTicket(ticketId, 0);
  }

  /** Releases a lease at the coordinator that granted it. Throws CoordinatorApiError ('unknown-lease', 'lease-expired'). */
  release(leaseId: string, leaseSecret: string, measured?: MeasuredTimes): void {
    this.atLeaseOwner(leaseId, (c) => c.release(leaseId, leaseSecret, measured));
  }

  /** Renews a lease at the coordinator that granted it; returns the new expiry (epoch ms). */
  renew(leaseId: string, leaseSecret: string): number {
    return this.atLeaseOwner(leaseId, (c) => c.renew(leaseId, leaseSecret));
  }

  // Runs `act` on each coordinator until one knows the lease; 'unknown-lease' from all is the answer.
  private atLeaseOwner<T>(leaseId: string, act: (c: Coordinator) => T): T {
    let unknown: unknown;
    for (const s of this.byId.values()) {
      try {
        return act(s.coordinator);
      } catch (e) {
        if (!(e instanceof CoordinatorApiError && e.code === 'unknown-lease')) throw e;
        unknown = e;
      }
    }
    throw unknown;
  }

  /**
   * A volunteer socket opened. It is the first model's until a register names another served
   * model; then (and on any later register for yet another model) the socket moves to that
   * model's coordinator, leaving the one before as a closed socket would. A register for a model
   * not served here is answered 'model-mismatch' and the socket closed (4001), as a single coordinator does.
   */
  connectVolunteer(link: VolunteerLink): VolunteerConnection {
    let current = this.first;
    let conn = current.coordinator.connectVolunteer(link);
    let closed = false;
    return {
      get nonce() {
        return conn.nonce;
      },
      receive: (raw) => {
        const modelId = registerModelId(raw);
        if (modelId !== undefined && modelId !== current.model.info.id) {
          let next: ModelSwarm;
          try {
            next = this.get(modelId);
          } catch (e) {
            if (!(e instanceof CoordinatorApiError)) throw e;
            link.send({ type: 'error', error: e.toWire() });
            link.close(4001, e.message);
            return;
          }
          conn.closed();
          current = next;
          conn = current.coordinator.connectVolunteer(link, conn.nonce); // the challenge it already got

        }
        conn.receive(raw);
      },
      closed: () => {
        if (closed) return;
        closed = true;
        conn.closed();
      },
    };
  }

  /** Subscribes a dashboard to one model's swarm: a snapshot now, then its events. Throws 'model-mismatch'. */
  subscribe(modelId: string | undefined, listener: SwarmListener): () => void {
    return this.get(modelId).coordinator.subscribe(listener);
  }

  /** Every model with its coverage, and the one a new volunteer should serve. */
  list(): ModelsList {
    const models = this.all().map((s) => modelCoverage(s.coordinator.state()));
    return { models, defaultModelId: this.first.model.info.id, suggestedModelId: volunteerModelPick(models) };
  }

  /** Stops every coordinator. */
  stop(): void {
    for (const s of this.byId.values()) s.coordinator.stop();
  }
}
