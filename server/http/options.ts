// The server's options and the handle of a running server (createServer's contract).
import type http from 'node:http';
import type { Logger } from 'pino';
import type { PlacementOptions } from '../../core/placement/index.ts';
import type { Coordinator, CoordinatorOptions } from '../coordinator/index.ts';
import type { ModelSizing, ServedModel } from '../models/index.ts';
import type { RouteRateLimits } from '../auth/index.ts';
import type { SwarmModels } from '../swarm-models.ts';
import type { IceConfig } from '../reach/index.ts';
import type { OpenAiOptions } from '../openai/index.ts';

/** One model to serve: a folder (config.json, or a llama2.c .bin), a folder with the id to serve it under (an hf: snapshot), or a model already loaded. */
export type ModelSource = string | { path: string; modelId: string } | ServedModel;

/** Options of `createServer`; durations in ms. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one (tests). Default 8787. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * The served model, or several: one swarm serves them all, each with its own coordinator
   * (registry, placement, routes) behind the one API and signaling server; the first is the default.
   */
  model: ModelSource | readonly ModelSource[];
  /** Sizing of the models for placement (weight precision, session length; `modelId` only with one model). */
  modelSizing?: ModelSizing;
  /** Optional folder of model folders, served under `/models/<folder>/` besides the served model. */
  modelDir?: string;
  /** Built web app folder (default dist/web). */
  webDir?: string;
  /**
   * Policy combo name of core/policies (default `bouquet`: its placement + routing, admission by
   * declared length and churn-aware rebalancing, as in the simulator; `bprr` is BPRR + WS-RR).
   */
  policy?: string;
  /** Placement policy name; overrides the combo's. */
  placement?: string;
  placementOptions?: PlacementOptions;
  /** Routing policy name; overrides the combo's. */
  routing?: string;
  /** Coordinator timing and defaults (heartbeats, leases, queue, network assumptions). */
  coordinator?: Omit<Partial<CoordinatorOptions>, 'model' | 'placement' | 'routing' | 'logger'>;
  /** A pino logger, or a level for a new one (default 'info'; tests pass 'silent'). */
  logger?: Logger | string;
  /**
   * Folder of the server's lasting state, owner-only (0600): the coordinator's signing key, so leases
   * survive a restart, and the generated admin token. Absent: both for this process only (tests; a
   * restart then invalidates every lease).
   */
  stateDir?: string;
  /** Serve HTTPS with this certificate and key (PEM, already checked: server/reach `loadTlsCredentials`). */
  tls?: { cert: string; key: string };
  /** STUN/TURN servers handed to pages at `apiPaths.iceServers` (server/reach `parseIceConfig`). */
  ice?: IceConfig;
  /**
   * The gate for TURN credentials: true when this request's client may have them. Default: every
   * client. This is where the auth module (server/auth, identified peers and their rate limits) plugs in;
   * a client it refuses gets STUN only.
   */
  allowTurn?: (req: http.IncomingMessage, clientId: string) => boolean;
  /** Authorization and fair use of the API (server/auth). */
  auth?: AuthOptions;
  /** Bounds on dashboard sockets. */
  dashboards?: Partial<DashboardSocketLimits>;
  /** The OpenAI-compatible API under /v1 (server/openai), through the server's own swarm client; absent: no /v1. */
  openai?: OpenAiOptions;
}

/** Who may control the server, and what browsers and clients may send. */
export interface AuthOptions {
  /**
   * The admin token control actions need (bearer header); ≥ 16 characters. Absent: the state dir's
   * `admin-token` file (0600), generated there at first start; with no state dir either, a token in
   * memory (read it from `BouquetServer.adminToken`).
   */
  adminToken?: string;
  /** Origins besides the server's own whose browser requests are accepted (e.g. a dev server's). */
  allowedOrigins?: string[];
  /** Token buckets on route requests per client id and per address; 'off' for none (benchmarks). */
  routeRateLimits?: Partial<RouteRateLimits> | 'off';
}

/** Dashboard sockets: how many at once, and how far one may fall behind before it is dropped. */
export interface DashboardSocketLimits {
  /** Most open dashboard sockets (default 64); more are refused with 503 `too-many-connections`. */
  maxSockets: number;
  /** Bytes queued to one socket beyond which it is dropped as a slow reader (default 1 MiB: a few hundred events). */
  maxBufferedBytes: number;
}

/** A running server. */
export interface BouquetServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  port: number;
  /** The first model's coordinator (the only one with a single model). */
  coordinator: Coordinator;
  /** The first model. */
  model: ServedModel;
  /** Every model's swarm, in order. */
  models: SwarmModels;
  logger: Logger;
  /** The admin token control actions need (`Authorization: Bearer <token>`). */
  adminToken: string;
  /** Stops accepting, closes every socket and the coordinator's timers. */
  close(): Promise<void>;
}
