// One HTTP server for everything: PeerJS signaling, the coordinator's REST + WebSocket API, model files, the web app.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ExpressPeerServer } from 'peer';
import { pino, type Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  apiPaths,
  httpStatusForCode,
  apiErrorBody,
  maxTicketWaitMs,
  parseJsonWith,
  parsePlacementPolicyRequest,
  parseRouteReleaseRequest,
  parseRouteRequest,
  parseRouteRenewRequest,
  type ApiErrorBody,
  type RouteResponse,
} from '../core/api/index.ts';
import { isBouquetError } from '../core/errors/index.ts';
import type { PlacementOptions } from '../core/placement/index.ts';
import { Coordinator, type CoordinatorOptions } from './coordinator/index.ts';
import { loadServedModel, type ModelSizing, type ServedModel } from './models/index.ts';
import { defaultServeCombo, resolveCombo } from '../core/policies/index.ts';
import { placementPolicy, placementPolicyNames, placementThreadDeadlineMs, predictionPolicies, routingPolicy, threadedPlacementPolicies } from './policies.ts';
import { PlacementThread } from './placement/thread.ts';
import { checkSignalingLogin, CoordinatorKey } from './identity/index.ts';

/** Where the built web app lives by default (`vite build` writes it there). */
export const defaultWebDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'web');

/** Options of `createServer`; durations in ms. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one (tests). Default 8787. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** The served model: a folder (config.json, or a llama2.c .bin), or a model already loaded. */
  model: string | ServedModel;
  /** Sizing of the model for placement (weight precision, session length). */
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
   * Folder of the server's lasting state (the coordinator's signing key, mode 0600), so leases
   * survive a restart. Absent: an ephemeral key (tests; a restart then invalidates every lease).
   */
  stateDir?: string;
}

/** A running server. */
export interface BouquetServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  port: number;
  coordinator: Coordinator;
  model: ServedModel;
  logger: Logger;
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

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

/** Starts the signaling + coordinator server; resolves once it listens. */
export async function createServer(options: ServerOptions): Promise<BouquetServer> {
  const logger = typeof options.logger === 'object' ? options.logger : pino({ level: options.logger ?? 'info', name: 'bouquet-serve' });
  const model = typeof options.model === 'string' ? await loadServedModel(options.model, options.modelSizing) : options.model;
  const combo = resolveCombo(options.policy ?? defaultServeCombo);
  const placementName = options.placement ?? combo.placement;
  const routingName = options.routing ?? combo.routing;
  // The exact MILP runs in this worker thread (started on first use), never on the event loop.
  const placementThread = new PlacementThread(placementThreadDeadlineMs);
  const coordinator = new Coordinator({
    ...options.coordinator,
    key: options.stateDir !== undefined ? CoordinatorKey.inStateDir(options.stateDir) : CoordinatorKey.ephemeral(),
    model,
    placement: { name: placementName, policy: placementPolicy(placementName, options.placementOptions, placementThread) },
    routing: routingPolicy(routingName),
    predictionPolicies: predictionPolicies(options.placementOptions, placementThread),
    slowPredictionPolicies: threadedPlacementPolicies,
    logger,
  });

  const app = express();
  app.disable('x-powered-by');
  const server = http.createServer(app);

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
  api.use(express.json({ limit: '256kb', type: () => true }));
  api.get('/health', (_req, res) => {
    res.json({ ok: true, model: model.info.id });
  });
  api.get('/swarm', (_req, res) => {
    res.json(coordinator.state());
  });
  api.post('/routes', (req, res) => {
    const parsed = parseRouteRequest(req.body);
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    sendRoute(res, coordinator.requestRoute(parsed.value));
  });
  api.get('/routes/tickets/:ticketId', (req, res, next) => {
    const raw = req.query.waitMs;
    const waitMs = raw === undefined ? 0 : Number(raw);
    if (!Number.isFinite(waitMs) || waitMs < 0 || waitMs > maxTicketWaitMs) {
      return sendError(res, { code: 'bad-request', message: `waitMs must be a number in [0, ${maxTicketWaitMs}]`, field: 'waitMs' });
    }
    coordinator.pollTicket(req.params.ticketId, waitMs).then((r) => sendRoute(res, r), next);
  });
  api.post('/routes/:leaseId/release', (req, res) => {
    const parsed = parseRouteReleaseRequest(req.body ?? {});
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    try {
      coordinator.release(req.params.leaseId, parsed.value.leaseSecret, parsed.value.measured);
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
      const expiresAtMs = coordinator.renew(req.params.leaseId, parsed.value.leaseSecret);
      res.json({ kind: 'renewed', leaseId: req.params.leaseId, expiresAtMs });
    } catch (e) {
      if (isBouquetError(e)) return sendError(res, apiErrorBody(e));
      throw e;
    }
  });
  api.post('/placement/policy', (req, res, next) => {
    const parsed = parsePlacementPolicyRequest(req.body);
    if (!parsed.ok) return sendError(res, parsed.error.toWire());
    const name = parsed.value.policy;
    if (!placementPolicyNames.includes(name)) {
      return sendError(res, { code: 'bad-request', message: `unknown placement policy '${name}' (known: ${placementPolicyNames.join(', ')})`, field: 'policy' });
    }
    coordinator.switchPlacementPolicy(name, placementPolicy(name, options.placementOptions, placementThread)).then(
      (r) => res.json({ kind: 'placement-policy', placement: r.placement, moved: r.moved }),
      (e: unknown) => (isBouquetError(e) ? sendError(res, apiErrorBody(e)) : next(e)),
    );
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
  app.use(`${apiPaths.models}/${encodeURIComponent(model.info.id)}`, express.static(model.folder, staticFiles));
  if (options.modelDir !== undefined) app.use(apiPaths.models, express.static(path.resolve(options.modelDir), staticFiles));
  app.use(apiPaths.models, (req, res) => {
    res.status(404).type('text/plain').send(`no model file ${req.path}\n`);
  });

  // The web app.
  const webDir = options.webDir ?? defaultWebDir;
  if (existsSync(webDir)) {
    app.use(express.static(webDir, { index: 'index.html', dotfiles: 'ignore', extensions: ['html'] }));
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
    const conn = coordinator.connectVolunteer({
      send: (m) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
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
  dashboardSockets.on('connection', (ws: WebSocket) => {
    const unsubscribe = coordinator.subscribe((m) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
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
  const url = `http://${urlHost}:${address.port}`;
  logger.info({ url, model: model.info.id, placement: placementName, routing: routingName, webDir }, 'bouquet server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    coordinator,
    model,
    logger,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        coordinator.stop();
        void placementThread.close();
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
