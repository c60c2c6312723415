// The REST API under /api: ICE servers, failure reports, health, models, swarm state, routes, leases, policy switch.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import {
  CoordinatorApiError,
  apiErrorBody,
  maxTicketWaitMs,
  parseFailureReport,
  parsePlacementPolicyRequest,
  parseRouteReleaseRequest,
  parseRouteRequest,
  parseRouteRenewRequest,
} from '../../core/api/index.ts';
import { isBouquetError } from '../../core/errors/index.ts';
import type { Coordinator } from '../coordinator/index.ts';
import { placementPolicy, placementPolicyNames } from '../policies.ts';
import type { PlacementThread } from '../placement/thread.ts';
import { addressKey, checkJsonBody, checkOrigin, type Authorizer, type AuthAction, type RouteRateLimiter } from '../auth/index.ts';
import type { SwarmModels } from '../swarm-models.ts';
import { iceServersFor, type FailureLog } from '../reach/index.ts';
import { scenarioHandler } from '../scenario-export.ts';
import type { ServerOptions } from './options.ts';
import { modelIdQuery, sendError, sendRoute } from './responses.ts';

/** What the REST routes need from the server. */
export interface ApiContext {
  options: ServerOptions;
  models: SwarmModels;
  logger: Logger;
  authorizer: Authorizer;
  allowedOrigins: readonly string[];
  routeLimiter: RouteRateLimiter | undefined;
  failures: FailureLog;
  placementThread: PlacementThread;
}

/** The /api router. */
export function apiRoutes(ctx: ApiContext): express.Router {
  const { options, models, logger, authorizer, allowedOrigins, routeLimiter, failures, placementThread } = ctx;
  const model = models.first.model;
  const coordinator = models.first.coordinator;
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
  return api;
}
