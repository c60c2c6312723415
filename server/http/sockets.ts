// The server's WebSockets: volunteer and dashboard sockets on our paths, PeerJS on its own, behind one upgrade router.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { apiPaths, CoordinatorApiError, apiErrorBody, encodeJson, parseJsonWith, type DashboardMessage } from '../../core/api/index.ts';
import { checkOrigin } from '../auth/index.ts';
import type { SwarmModels } from '../swarm-models.ts';
import { checkSignalingLogin } from '../identity/index.ts';
import type { DashboardSocketLimits } from './options.ts';
import { pathnameOf, rejectUpgrade, sendJson, socketModelId } from './responses.ts';

/** What the socket router needs from the server. */
export interface SocketContext {
  server: http.Server;
  models: SwarmModels;
  logger: Logger;
  allowedOrigins: readonly string[];
  dashboardLimits: DashboardSocketLimits;
  /** PeerJS's socket server, once PeerJS made it. */
  peerSockets: () => WebSocketServer | undefined;
}

/** Routes every upgrade to its socket server; returns ours, for shutdown. */
export function attachSockets(ctx: SocketContext): { volunteerSockets: WebSocketServer; dashboardSockets: WebSocketServer } {
  const { server, models, logger, allowedOrigins, dashboardLimits } = ctx;
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
    const peerSockets = ctx.peerSockets();
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
        // The origin's scheme is https when the upgrade came over TLS (a page served by `--tls-*`).
        checkOrigin({ headers: req.headers, encrypted: 'encrypted' in req.socket && req.socket.encrypted === true }, allowedOrigins);
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

  return { volunteerSockets, dashboardSockets };
}
