// Small HTTP and WebSocket answers shared by the REST routes and the socket router: coded errors, routes, upgrades.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Response } from 'express';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { CoordinatorApiError, encodeJson, httpStatusForCode, maxIdLength, type ApiErrorBody, type RouteResponse } from '../../core/api/index.ts';

/** Every response, API and files alike, is cross-origin isolated (multi-threaded wasm needs it). */
export const isolationHeaders: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Answers a coded error with its HTTP status. */
export function sendError(res: Response, error: ApiErrorBody): void {
  res.status(httpStatusForCode(error.code)).json({ kind: 'error', error });
}

/** Answers a route request: 200 granted, 202 queued, else the coded error. */
export function sendRoute(res: Response, r: RouteResponse): void {
  if (r.kind === 'route') res.status(200).json(r);
  else if (r.kind === 'queued') res.status(202).json(r);
  else sendError(res, r.error);
}

/** The path of a request URL, without its query. */
export function pathnameOf(req: http.IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Refuses a WebSocket upgrade with an HTTP status (and a coded error body, when given). */
export function rejectUpgrade(socket: Duplex, status: number, text: string, error?: ApiErrorBody): void {
  const body = error === undefined ? '' : JSON.stringify({ kind: 'error', error });
  const type = error === undefined ? '' : 'Content-Type: application/json\r\n';
  socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${type}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy();
}

// `?modelId=` of a GET or socket URL: absent, one bounded id, or a coded error naming the field.
export function modelIdQuery(raw: unknown): string | undefined | CoordinatorApiError {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > maxIdLength) {
    return new CoordinatorApiError('bad-request', `modelId must be one non-empty id of at most ${maxIdLength} characters`, 'modelId');
  }
  return raw;
}

/** `?modelId=` of a socket URL (see `modelIdQuery`). */
export function socketModelId(req: http.IncomingMessage): string | undefined | CoordinatorApiError {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return modelIdQuery(q === -1 ? undefined : new URLSearchParams(url.slice(q)).get('modelId') ?? undefined);
}

/** Sends `m` as JSON text; a message holding a non-finite number is dropped and logged (a bug upstream), never sent as null. */
export function sendJson(ws: WebSocket, m: unknown, logger: Logger): void {
  let text: string;
  try {
    text = encodeJson(m);
  } catch (err) {
    logger.error({ err }, 'message with a non-finite number not sent');
    return;
  }
  ws.send(text);
}
