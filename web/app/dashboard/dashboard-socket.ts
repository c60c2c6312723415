// Dashboard link to the coordinator: a WebSocket that validates every message and reconnects with backoff.
import { apiPaths, parseJsonWith, parseDashboardMessage, type DashboardMessage } from '../../../core/api/index.ts';

/** What the socket tells its owner. */
export interface DashboardSocketHandlers {
  onMessage: (message: DashboardMessage) => void;
  onStatus: (status: DashboardConnection, detail?: string) => void;
}

/** State of the link: live once the snapshot arrived. */
export type DashboardConnection = 'connecting' | 'live' | 'reconnecting' | 'closed';

/** First and longest wait before reconnecting, ms. */
const retryFirstMs = 500;
const retryMaxMs = 8_000;

/** WebSocket URL of the dashboard endpoint for a page served from `origin` (http → ws, https → wss). */
export function dashboardSocketUrl(origin: string): string {
  const u = new URL(apiPaths.dashboardSocket, origin);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/** Opens the dashboard socket and keeps it open until `close()`; returns `close`. */
export function openDashboardSocket(origin: string, handlers: DashboardSocketHandlers): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let retryMs = retryFirstMs;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const connect = (): void => {
    if (closed) return;
    const ws = new WebSocket(dashboardSocketUrl(origin));
    socket = ws;
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      const parsed = parseJsonWith(ev.data, parseDashboardMessage);
      if (!parsed.ok) {
        // A malformed message is the server's bug: say so, keep the link and the state we have.
        console.warn(`dashboard: ignored a malformed message (${parsed.error.message})`);
        return;
      }
      if (parsed.value.type === 'snapshot') {
        retryMs = retryFirstMs;
        handlers.onStatus('live');
      }
      handlers.onMessage(parsed.value);
    };
    ws.onclose = () => {
      if (socket !== ws || closed) return;
      handlers.onStatus('reconnecting', `connection to the coordinator lost; retrying in ${Math.round(retryMs / 1000)} s`);
      timer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMaxMs, retryMs * 2);
    };
  };

  handlers.onStatus('connecting');
  connect();
  return () => {
    closed = true;
    if (timer !== null) clearTimeout(timer);
    socket?.close();
    handlers.onStatus('closed');
  };
}
