// Dashboard link to the coordinator: the core/api client's socket, validating every message and reconnecting with jittered backoff.
import { apiPaths, CoordinatorClient, parseDashboardMessage, type DashboardMessage } from '../../../core/api/index.ts';

/** What the socket tells its owner. */
export interface DashboardSocketHandlers {
  onMessage: (message: DashboardMessage) => void;
  onStatus: (status: DashboardConnection, detail?: string) => void;
}

/** State of the link: live once the snapshot arrived. */
export type DashboardConnection = 'connecting' | 'live' | 'reconnecting' | 'closed';

/** First and longest wait before reconnecting, ms, and reconnects in a row before giving up (≈ 15 min at the cap). */
const retryFirstMs = 500;
const retryMaxMs = 8_000;
const maxReconnects = 120;

/** Opens the dashboard socket of one model (default: the server's first) and keeps it open until `close()`; returns `close`. */
export function openDashboardSocket(origin: string, handlers: DashboardSocketHandlers, client: CoordinatorClient = new CoordinatorClient({ origin }), modelId?: string): () => void {
  let closed = false;
  handlers.onStatus('connecting');
  const socket = client.openSocket(apiPaths.dashboardSocket, parseDashboardMessage, {
    onOpen: () => undefined, // live once the snapshot arrives
    onMessage: (m) => {
      if (m.type === 'snapshot') handlers.onStatus('live');
      handlers.onMessage(m);
    },
    // A malformed message is the server's bug: say so, keep the link and the state we have.
    onInvalid: (e) => console.warn(`dashboard: ignored a malformed message (${e.message})`),
    onClose: (retryInMs) => {
      if (closed) return;
      if (retryInMs === null) handlers.onStatus('closed', `the coordinator stayed unreachable after ${maxReconnects} tries; reload the page`);
      else handlers.onStatus('reconnecting', `connection to the coordinator lost; retrying in ${Math.round(retryInMs / 1000)} s`);
    },
  }, { firstMs: retryFirstMs, maxMs: retryMaxMs, maxAttempts: maxReconnects }, modelId);
  return () => {
    closed = true;
    socket.close();
    handlers.onStatus('closed');
  };
}
