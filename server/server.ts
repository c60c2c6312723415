// One HTTP server for everything: PeerJS signaling, the coordinator's REST + WebSocket API, model files, the web app.
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { ExpressPeerServer } from 'peer';
import { serverLogger } from './log.ts';
import { webAppHandlers } from './static.ts';
import { WebSocketServer } from 'ws';
import { apiPaths, finiteJsonReplacer } from '../core/api/index.ts';
import { BanList, Coordinator } from './coordinator/index.ts';
import { loadServedModel, type ModelSizing, type ServedModel } from './models/index.ts';
import { defaultServeCombo, serveCombo } from '../core/policies/index.ts';
import type { PlacementOptions } from '../core/placement/index.ts';
import { placementPolicy, placementThreadDeadlineMs, predictionPolicies, routingPolicy, threadedPlacementPolicies } from './policies.ts';
import { PlacementThread } from './placement/thread.ts';
import {
  adminTokenScheme, Authorizer, checkAdminToken, defaultRouteRateLimits, loadOrCreateAdminToken, newAdminToken, RouteRateLimiter, type AdminTokenSource,
} from './auth/index.ts';
import { SwarmModels, type ModelSwarm } from './swarm-models.ts';
import { FailureLog } from './reach/index.ts';
import { CoordinatorKey } from './identity/index.ts';
import type { AuthOptions, BouquetServer, DashboardSocketLimits, ModelSource, ServerOptions } from './http/options.ts';
import { isolationHeaders } from './http/responses.ts';
import { apiRoutes } from './http/api-routes.ts';
import { attachSockets } from './http/sockets.ts';
import { openAiRouter } from './openai/index.ts';

export type { AuthOptions, BouquetServer, DashboardSocketLimits, ModelSource, ServerOptions } from './http/options.ts';

/** Where the built web app lives by default (`vite build` writes it there). */
// server/ in a checkout, dist/lib/server/ in the package: the app is in dist/web either way.
const serverDir = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.basename(path.dirname(path.dirname(serverDir))) === 'dist' ? path.resolve(serverDir, '..', '..', '..') : path.resolve(serverDir, '..');
export const defaultWebDir = path.join(packageRoot, 'dist', 'web');

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

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Starts the signaling + coordinator server; resolves once it listens. */
export async function createServer(options: ServerOptions): Promise<BouquetServer> {
  const logger = typeof options.logger === 'object' ? options.logger : serverLogger(options.logger ?? 'info', 'bouquet-serve');
  const sources: readonly ModelSource[] = Array.isArray(options.model) ? options.model : [options.model as ModelSource];
  const loaded = await Promise.all(sources.map((m) => loadModel(m, options.modelSizing)));
  // The combo exactly as the simulator runs it (core/policies): placement and routing with their options, admission, rebalancing.
  const combo = serveCombo(options.policy ?? defaultServeCombo, { placement: options.placement, routing: options.routing });
  const placementName = combo.placement;
  const routingName = combo.routing;
  const placementOptions: PlacementOptions | undefined =
    combo.placementOptions === undefined ? options.placementOptions : { ...combo.placementOptions, ...options.placementOptions };
  // The exact MILP runs in this worker thread (started on first use), never on the event loop; every model's placement shares it.
  const placementThread = new PlacementThread(placementThreadDeadlineMs);
  // Predictions in a thread of their own: a slow one (the MILP's) never holds up the placement in force.
  const predictionThread = new PlacementThread(placementThreadDeadlineMs);
  // One signing key for every model's coordinator: a lease from any of them checks with the one public key.
  const coordinatorKey = options.stateDir !== undefined ? CoordinatorKey.inStateDir(options.stateDir) : CoordinatorKey.ephemeral();
  // One ban list for every model (a ban is of the key), kept in the state dir so a restart forgets no ban.
  const bans = options.coordinator?.bans ?? (options.stateDir !== undefined ? BanList.inStateDir(options.stateDir, logger) : new BanList());
  const newCoordinator = (model: ServedModel): Coordinator =>
    new Coordinator({
      ...options.coordinator,
      key: coordinatorKey,
      bans,
      model,
      placement: { name: placementName, policy: placementPolicy(placementName, placementOptions, placementThread) },
      routing: routingPolicy(routingName, combo.routingOptions),
      // The combo's cache reservation and rebalancing (core/policies), unless the coordinator options name them.
      cacheReservation: options.coordinator?.cacheReservation ?? combo.reservation ?? 'slot',
      rebalance: options.coordinator?.rebalance ?? combo.rebalance === true,
      combo,
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

  app.use('/api', apiRoutes({ options, models, logger, authorizer, allowedOrigins, routeLimiter, failures, placementThread }));

  // The OpenAI-compatible API (server/openai): its own keys, limits, CORS and error shape; its swarm client reaches this server at `ownOrigin`.
  let url = '';
  let ownOrigin = '';
  const openai = options.openai === undefined ? undefined : openAiRouter(options.openai, { models, origin: () => ownOrigin, logger });
  if (openai !== undefined) app.use('/v1', openai.router);

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
  const { volunteerSockets, dashboardSockets } = attachSockets({ server, models, logger, allowedOrigins, dashboardLimits, peerSockets: () => peerSockets });

  const port = options.port ?? 8787;
  const host = options.host ?? '127.0.0.1';
  await listen(server, port, host);
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  url = `${options.tls !== undefined ? 'https' : 'http'}://${urlHost}:${address.port}`;
  ownOrigin = url;
  // Under TLS the server's own swarm client (the OpenAI API's) would have to trust a certificate that may be
  // self-signed or name another host; it reaches this same app over a loopback-only listener instead (plain
  // HTTP that never leaves the machine), so no certificate check is turned off anywhere.
  let ownServer: http.Server | undefined;
  if (openai !== undefined && options.tls !== undefined) {
    const own = http.createServer(app);
    own.on('upgrade', (req, socket, head) => server.emit('upgrade', req, socket, head));
    await listen(own, 0, '127.0.0.1');
    ownServer = own;
    ownOrigin = `http://127.0.0.1:${(own.address() as AddressInfo).port}`;
    logger.info({ ownOrigin }, "the OpenAI API's swarm client reaches this server over loopback (TLS is for the outside)");
  }
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
        void openai?.close();
        models.stop();
        void placementThread.close();
        void predictionThread.close();
        for (const wss of [volunteerSockets, dashboardSockets, peerSockets]) {
          if (wss === undefined) continue;
          for (const c of wss.clients) c.terminate();
          wss.close();
        }
        ownServer?.close();
        ownServer?.closeAllConnections();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
