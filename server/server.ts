// One HTTP server for everything: PeerJS signaling, the coordinator's REST + WebSocket API, model files, the web app.
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ExpressPeerServer } from 'peer';
import type { Logger } from 'pino';
import { serverLogger } from './log.ts';
import { webAppHandlers } from './static.ts';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  apiPaths,
  CoordinatorApiError,
  httpStatusForCode,
  apiErrorBody,
  maxIdLength,
  maxTicketWaitMs,
  parseJsonWith,
  parseFailureReport,
  parsePlacementPolicyRequest,
  parseRouteReleaseRequest,
  parseRouteRequest,
  parseRouteRenewRequest,
  type ApiErrorBody,
  type DashboardMessage,
  type RouteResponse,
  encodeJson,
  finiteJsonReplacer,
} from '../core/api/index.ts';
import { isBouquetError } from '../core/errors/index.ts';
import type { PlacementOptions } from '../core/placement/index.ts';
import { Coordinator, type CoordinatorOptions } from './coordinator/index.ts';
import { loadServedModel, type ModelSizing, type ServedModel } from './models/index.ts';
import { defaultServeCombo, resolveCombo } from '../core/policies/index.ts';
import { placementPolicy, placementPolicyNames, placementThreadDeadlineMs, predictionPolicies, routingPolicy, threadedPlacementPolicies } from './policies.ts';
import { PlacementThread } from './placement/thread.ts';
import {
  addressKey, adminTokenScheme, Authorizer, checkAdminToken, checkJsonBody, checkOrigin, defaultRouteRateLimits, loadOrCreateAdminToken, newAdminToken,
  RouteRateLimiter, type AdminTokenSource, type AuthAction, type RouteRateLimits,
} from './auth/index.ts';
import { SwarmModels, type ModelSwarm } from './swarm-models.ts';
import { FailureLog, iceServersFor, type IceConfig } from './reach/index.ts';
import { checkSignalingLogin, CoordinatorKey } from './identity/index.ts';
import { scenarioHandler } from './scenario-export.ts';

/** Where the built web app lives by default (`vite build` writes it there). */
// server/ in a checkout, dist/lib/server/ in the package: the app is in dist/web either way.
const serverDir = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.basename(path.dirname(path.dirname(serverDir))) === 'dist' ? path.resolve(serverDir, '..', '..', '..') : path.resolve(serverDir, '..');
export const defaultWebDir = path.join(packageRoot, 'dist', 'web');

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
  /** Policy combo name of core/policies (default `bprr`: BPRR placement + WS-RR routing, as in the simulator). */
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

const isolationHeaders: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function sendError(res: Response, error: ApiErrorBody): void {
  res.status(httpStatusForCode(error.code)).json({ kind: 'error', error });
}

function sendRoute(res: Response, r: RouteResponse): void {
  if (r.kind === 'route') res.status(200).json(r);
  else if (r.kind === 'queued') res.status(202).json(r);
  else sendError(res, r.error);
}

function pathnameOf(req: http.IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function rejectUpgrade(socket: Duplex, status: number, text: string, error?: ApiErrorBody): void {
  const body = error === undefined ? '' : JSON.stringify({ kind: 'error', error });
  const type = error === undefined ? '' : 'Content-Type: application/json\r\n';
  socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${type}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy();
}

/** The admin token and where it came from: given, the state dir's file, or made in memory. */
function resolveAdminToken(auth: AuthOptions | undefined, stateDir: string | undefined): { token: string; source: AdminTokenSource; file?: string } {
  if (auth?.adminToken !== undefined) return { token: checkAdminToken(auth.adminToken), source: 'given' };
  if (stateDir !== undefined) return loadOrCreateAdminToken(stateDir);
  return { token: newAdminToken(), source: 'in-memory' };
}

function loadModel(source: ModelSource, sizing: ModelSizing | undefined): Promise<ServedModel> {
  if (typeof source === 'string') return loadServedModel(source, sizing);
  if ('info' in source) return Promise.resolve(source);
  return loadServedModel(source.path, { ...sizing, modelId: source.modelId });
}

// `?modelId=` of a GET or socket URL: absent, one bounded id, or a coded error naming the field.
function modelIdQuery(raw: unknown): string | undefined | CoordinatorApiError {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > maxIdLength) {
    return new CoordinatorApiError('bad-request', `modelId must be one non-empty id of at most ${maxIdLength} characters`, 'modelId');
  }
  return raw;
}

function socketModelId(req: http.IncomingMessage): string | undefined | CoordinatorApiError {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return modelIdQuery(q === -1 ? undefined : new URLSearchParams(url.slice(q)).get('modelId') ?? undefined);
}

/** Starts the signaling + coordinator server; resolves once it listens. */
export async function createServer(options: ServerOptions): Promise<BouquetServer> {
  const logger = typeof options.logger === 'object' ? options.logger : serverLogger(options.logger ?? 'info', 'bouquet-serve');
  const sources: readonly ModelSource[] = Array.isArray(options.model) ? options.model : [options.model as ModelSource];
  const loaded = await Promise.all(sources.map((m) => loadModel(m, options.modelSizing)));
  const combo = resolveCombo(options.policy ?? defaultServeCombo);
  const placementName = options.placement ?? combo.placement;
  const routingName = options.routing ?? combo.routing;
  // The exact MILP runs in this worker thread (started on first use), never on the event loop; every model's placement shares it.
  const placementThread = new PlacementThread(placementThreadDeadlineMs);
  // Predictions in a thread of their own: a slow one (the MILP's) never holds up the placement in force.
  const predictionThread = new PlacementThread(placementThreadDeadlineMs);
  // One signing key for every model's coordinator: a lease from any of them checks with the one public key.
  const coordinatorKey = options.stateDir !== undefined ? CoordinatorKey.inStateDir(options.stateDir) : CoordinatorKey.ephemeral();
  const newCoordinator = (model: ServedModel): Coordinator =>
    new Coordinator({
      ...options.coordinator,
      key: coordinatorKey,
      model,
      placement: { name: placementName, policy: placementPolicy(placementName, options.placementOptions, placementThread) },
      routing: routingPolicy(routingName),
      // The combo's cache reservation (core/policies), unless the coordinator options name one.
      cacheReservation: options.coordinator?.cacheReservation ?? combo.reservation ?? 'slot',
      predictionPolicies: predictionPolicies(options.placementOptions, predictionThread),
      slowPredictionPolicies: threadedPlacementPolicies,
      logger: loaded.length === 1 ? logger : logger.child({ model: model.info.id }),
    });
  let models: SwarmModels;
  try {
    models = new SwarmModels(loaded.map((model): ModelSwarm => ({ model, coordinator: newCoordinator(model) })));
  } catch (e) {
    void placementThread.close();
    void predictionThread.close();
    throw e;
  }
  const model = models.first.model;
  const coordinator = models.first.coordinator;

  const admin = resolveAdminToken(options.auth, options.stateDir);
  logger.info({ source: admin.source, ...(admin.file !== undefined ? { file: admin.file } : {}) }, 'admin token ready (control actions need it as a bearer header)');
  const authorizer = new Authorizer([adminTokenScheme(admin.token)]);
  const allowedOrigins = options.auth?.allowedOrigins ?? [];
  const rateLimits = options.auth?.routeRateLimits;
  const routeLimiter = rateLimits === 'off' ? undefined : new RouteRateLimiter({ ...defaultRouteRateLimits, ...rateLimits });
  const dashboardLimits: DashboardSocketLimits = { maxSockets: 64, maxBufferedBytes: 1 << 20, ...options.dashboards };

  const app = express();
  // No non-finite number leaves: res.json throws a coded error instead (answered as one by the API's error handler).
  app.set('json replacer', finiteJsonReplacer);
  app.disable('x-powered-by');
  const server = options.tls !== undefined ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, app) : http.createServer(app);
  const failures = new FailureLog();

  // Every response, API and files alike, is cross-origin isolated (multi-threaded wasm needs it).
  app.use((_req, res, next) => {
    for (const [k, v] of Object.entries(isolationHeaders)) res.setHeader(k, v);
    next();
  });

  // PeerJS signaling on the same port. Its WebSocket server does not take the HTTP server's
  // upgrades itself (ws would answer 400 to every other path); our upgrade router hands them over.
  let peerSockets: WebSocketServer | undefined;
  const peerApp = ExpressPeerServer(server, {
    path: '/',
    createWebSocketServer: (wsOptions) => {
      peerSockets = new WebSocketServer({ noServer: true, path: wsOptions.path });
      return peerSockets;
    },
  });
  peerApp.on('connection', (client) => logger.debug({ peerId: client.getId() }, 'peerjs client connected'));
  peerApp.on('disconnect', (client) => logger.debug({ peerId: client.getId() }, 'peerjs client disconnected'));
  // The peer server re-emits socket errors on its app; an EventEmitter 'error' without a listener would crash us.
  peerApp.on('error', (err) => logger.warn({ err }, 'peerjs server error'));
  app.use(apiPaths.peerjs, peerApp);

  // REST API.
  const api = express.Router();
  // Anything that changes state: JSON bodies only, and from this server's own pages (or no browser at all).
  api.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    try {
      checkOrigin({ headers: req.headers, encrypted: req.secure }, allowedOrigins);
      checkJsonBody(req);
    } catch (e) {
      if (isBouquetError(e)) return sendError(res, apiErrorBody(e));
      throw e;
    }
    next();
  });
  api.use(express.json({ limit: '256kb', type: 'application/json' }));
  /** Refuses the request unless its credentials allow `action`. */
  const requireAction = (action: AuthAction) => (req: Request, res: Response, next: NextFunction) => {
    try {
      authorizer.authorize(req, action);
    } catch (e) {
      if (!isBouquetError(e)) throw e;
      res.setHeader('WWW-Authenticate', 'Bearer realm="bouquet"');
      return sendError(res, apiErrorBody(e));
    }
    next();
  };
  api.get('/ice-servers', (req, res) => {
    const clientId = req.query.clientId;
    if (typeof clientId !== 'string' || clientId === '' || clientId.length > 256) {
      return sendError(res, { code: 'bad-request', message: 'clientId must be a string of 1 to 256 characters', field: 'clientId' });
    }
    const allowed = options.allowTurn?.(req, clientId) ?? true;
    res.setHeader('Cache-Control', 'no-store');
    res.json(iceServersFor(options.ice, clientId, Date.now(), allowed));
  });
  api.post('/failures', (req, res) => {
    const parsed = parseFailureReport(req.body);
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    const f = parsed.value;
    if (failures.add(f, Date.now())) logger.warn({ clientId: f.clientId, stage: f.stage, code: f.code, reason: f.reason, span: f.span, peerId: f.peerId }, `request failed: ${f.message}`);
    res.json({ kind: 'failure-logged' });
  });
  api.get('/failures', (_req, res) => {
    res.json({ kind: 'failures', failures: failures.recent() });
  });
  api.get('/health', (_req, res) => {
    res.json({ ok: true, model: model.info.id, models: models.ids, loopLag: coordinator.loopLagReport() });
  });
  api.get('/models', (_req, res) => {
    res.json(models.list());
  });
  api.get('/swarm', (req, res) => {
    const modelId = modelIdQuery(req.query.modelId);
    if (modelId instanceof CoordinatorApiError) return sendError(res, modelId.toWire());
    try {
      res.json(models.get(modelId).coordinator.state());
    } catch (e) {
      if (isBouquetError(e)) return sendError(res, apiErrorBody(e));
      throw e;
    }
  });
  api.get('/scenario', scenarioHandler(models));
  api.post('/routes', (req, res) => {
    const parsed = parseRouteRequest(req.body);
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    const address = addressKey(req.socket.remoteAddress);
    try {
      routeLimiter?.take(parsed.value.clientId, address);
    } catch (e) {
      if (!isBouquetError(e)) throw e;
      const retryAfterMs = e.data?.retryAfterMs;
      if (typeof retryAfterMs === 'number') res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
      return sendError(res, apiErrorBody(e));
    }
    sendRoute(res, models.requestRoute(parsed.value, { address }));
  });
  api.get('/routes/tickets/:ticketId', (req, res, next) => {
    const raw = req.query.waitMs;
    const waitMs = raw === undefined ? 0 : Number(raw);
    if (!Number.isFinite(waitMs) || waitMs < 0 || waitMs > maxTicketWaitMs) {
      return sendError(res, { code: 'bad-request', message: `waitMs must be a number in [0, ${maxTicketWaitMs}]`, field: 'waitMs' });
    }
    models.pollTicket(req.params.ticketId, waitMs).then((r) => sendRoute(res, r)).catch(next);
  });
  api.post('/routes/:leaseId/release', (req, res) => {
    const parsed = parseRouteReleaseRequest(req.body ?? {});
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    try {
      models.release(req.params.leaseId, parsed.value.leaseSecret, parsed.value.measured);
      res.json({ kind: 'released', leaseId: req.params.leaseId });
    } catch (e) {
      if (isBouquetError(e)) return sendError(res, apiErrorBody(e));
      throw e;
    }
  });
  api.post('/routes/:leaseId/renew', (req, res) => {
    const parsed = parseRouteRenewRequest(req.body ?? {});
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    try {
      const expiresAtMs = models.renew(req.params.leaseId, parsed.value.leaseSecret);
      res.json({ kind: 'renewed', leaseId: req.params.leaseId, expiresAtMs });
    } catch (e) {
      if (isBouquetError(e)) return sendError(res, apiErrorBody(e));
      throw e;
    }
  });
  api.post('/placement/policy', requireAction('control'), (req, res, next) => {
    const parsed = parsePlacementPolicyRequest(req.body);
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    const name = parsed.value.policy;
    if (!placementPolicyNames.includes(name)) {
      return sendError(res, { code: 'bad-request', message: `unknown placement policy '${name}' (known: ${placementPolicyNames.join(', ')})`, field: 'policy' });
    }
    let target: Coordinator;
    try {
      target = models.get(parsed.value.modelId).coordinator;
    } catch (e) {
      if (isBouquetError(e)) return sendError(res, apiErrorBody(e));
      throw e;
    }
    target
      .switchPlacementPolicy(name, placementPolicy(name, options.placementOptions, placementThread))
      .then((r) => res.json({ kind: 'placement-policy', placement: r.placement, moved: r.moved }))
      .catch((e: unknown) => (isBouquetError(e) ? sendError(res, apiErrorBody(e)) : next(e)));
  });
  api.use((req, res) => {
    sendError(res, { code: 'not-found', message: `no endpoint ${req.method} /api${req.path}` });
  });
  // Body-parser errors (malformed JSON, too large) and bugs, as API errors.
  api.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, { code: 'bad-request', message: 'body is not valid JSON', field: '(message)' });
    if (e.status === 413) return sendError(res, { code: 'bad-request', message: 'body is larger than 256 kB', field: '(message)' });
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return sendError(res, { code: 'bad-request', message: e.message ?? 'bad request' });
    }
    logger.error({ err }, 'API handler failed');
    sendError(res, apiErrorBody(err));
  });
  app.use('/api', api);

  // Model files, with HTTP Range (volunteers fetch only their blocks' tensors).
  const staticFiles = { index: false, dotfiles: 'ignore', fallthrough: true, redirect: false } as const;
  for (const s of models.all()) app.use(`${apiPaths.models}/${encodeURIComponent(s.model.info.id)}`, express.static(s.model.folder, staticFiles));
  if (options.modelDir !== undefined) app.use(apiPaths.models, express.static(path.resolve(options.modelDir), staticFiles));
  app.use(apiPaths.models, (req, res) => {
    res.status(404).type('text/plain').send(`no model file ${req.path}\n`);
  });

  // The web app.
  const webDir = options.webDir ?? defaultWebDir;
  if (existsSync(webDir)) {
    app.use(...webAppHandlers(webDir));
  } else {
    app.get('/', (_req, res) => {
      res
        .status(503)
        .type('text/plain')
        .send(`The web app is not built: run \`npm run build\` (expected it in ${webDir}). The API is up at /api.\n`);
    });
  }

  // WebSockets: volunteers and dashboards on our paths, PeerJS on its own.
  const volunteerSockets = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const dashboardSockets = new WebSocketServer({ noServer: true, maxPayload: 1 << 16 });
  volunteerSockets.on('connection', (ws: WebSocket) => {
    const conn = models.connectVolunteer({
      send: (m) => {
        if (ws.readyState === ws.OPEN) sendJson(ws, m, logger);
      },
      close: (code, reason) => ws.close(code, reason.slice(0, 120)),
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.send(JSON.stringify({ type: 'error', error: { code: 'bad-request', message: 'send JSON text frames', field: '(message)' } }));
        return;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      const parsed = parseJsonWith(text, (raw) => ({ ok: true, value: raw }));
      if (!parsed.ok) {
        ws.send(JSON.stringify({ type: 'error', error: parsed.error.toWire() }));
        return;
      }
      conn.receive(parsed.value);
    });
    ws.on('close', () => conn.closed());
    ws.on('error', (err) => logger.warn({ err }, 'volunteer socket error'));
  });
  // One serialization per event, however many dashboards read it.
  // A message holding a non-finite number is dropped and logged (a bug upstream), never sent as null.
  const dashboardText = new WeakMap<DashboardMessage, string | null>();
  const textOf = (m: DashboardMessage): string | null => {
    let t = dashboardText.get(m);
    if (t === undefined) {
      try {
        t = encodeJson(m);
      } catch (err) {
        logger.error({ err }, 'message with a non-finite number not sent');
        t = null;
      }
      dashboardText.set(m, t);
    }
    return t;
  };
  dashboardSockets.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
    const modelId = socketModelId(req); // checked at the upgrade
    const unsubscribe = models.subscribe(modelId instanceof CoordinatorApiError ? undefined : modelId, (m) => {
      if (ws.readyState !== ws.OPEN) return;
      // Backpressure: a reader that lets its queue grow past the bound is dropped, so it costs at most that much memory.
      if (ws.bufferedAmount > dashboardLimits.maxBufferedBytes) {
        unsubscribe();
        logger.warn({ code: 'slow-reader', bufferedBytes: ws.bufferedAmount }, 'dashboard socket dropped: it does not read its events');
        ws.terminate();
        return;
      }
      const text = textOf(m);
      if (text !== null) ws.send(text);
    });
    ws.on('close', unsubscribe);
    ws.on('error', (err) => logger.warn({ err }, 'dashboard socket error'));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = pathnameOf(req);
    const target =
      pathname === apiPaths.volunteerSocket
        ? volunteerSockets
        : pathname === apiPaths.dashboardSocket
          ? dashboardSockets
          : peerSockets !== undefined && pathname === peerSockets.options.path
            ? peerSockets
            : undefined;
    if (target === undefined) return rejectUpgrade(socket, 404, 'Not Found');
    if (target === peerSockets) {
      // A volunteer's key-bound id only with a token signed by its key (server/identity/signaling.ts).
      const refusal = checkSignalingLogin(new URL(req.url ?? '/', 'http://localhost').searchParams);
      if (refusal !== null) {
        logger.warn({ reason: refusal }, 'signaling login refused');
        return rejectUpgrade(socket, 403, 'Forbidden');
      }
    }
    if (target !== peerSockets) {
      // A page of another site may not open our sockets in a visitor's browser.
      try {
        checkOrigin({ headers: req.headers }, allowedOrigins);
      } catch (e) {
        return rejectUpgrade(socket, 403, 'Forbidden', apiErrorBody(e));
      }
    }
    if (target === dashboardSockets && dashboardSockets.clients.size >= dashboardLimits.maxSockets) {
      return rejectUpgrade(socket, 503, 'Service Unavailable', { code: 'too-many-connections', message: `the server holds its most dashboard sockets (${dashboardLimits.maxSockets})` });
    }
    if (target === dashboardSockets) {
      // A dashboard watches one model: `?modelId=` (default the first); a model not served here is refused before the upgrade.
      const modelId = socketModelId(req);
      if (modelId instanceof CoordinatorApiError || (modelId !== undefined && !models.ids.includes(modelId))) return rejectUpgrade(socket, 404, 'Not Found');
    }
    target.handleUpgrade(req, socket, head, (ws) => target.emit('connection', ws, req));
  });

  const port = options.port ?? 8787;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls !== undefined ? 'https' : 'http'}://${urlHost}:${address.port}`;
  logger.info({ url, model: model.info.id, models: models.ids, placement: placementName, routing: routingName, webDir }, 'bouquet server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    coordinator,
    model,
    models,
    logger,
    adminToken: admin.token,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        models.stop();
        void placementThread.close();
        void predictionThread.close();
        for (const wss of [volunteerSockets, dashboardSockets, peerSockets]) {
          if (wss === undefined) continue;
          for (const c of wss.clients) c.terminate();
          wss.close();
        }
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Sends `m` as JSON text; a message holding a non-finite number is dropped and logged (a bug upstream), never sent as null. */
function sendJson(ws: WebSocket, m: unknown, logger: Logger): void {
  let text: string;
  try {
    text = encodeJson(m);
  } catch (err) {
    logger.error({ err }, 'message with a non-finite number not sent');
    return;
  }
  ws.send(text);
}
