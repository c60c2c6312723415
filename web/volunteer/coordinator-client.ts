// The volunteer's line to the coordinator: one CoordinatorSocket (core/api client), re-registering after every reconnect.
import {
  apiErrorFromWire, apiPaths, parseCoordinatorToVolunteerMessage, CoordinatorApiError, CoordinatorClient,
  type AssignmentMessage, type CoordinatorSocket, type CoordinatorToVolunteerMessage, type CreateSocket, type HeartbeatMessage,
  type ReadyMessage, type RegisterMessage, type RegisteredMessage,
} from '../../core/api/index.ts';
import type { BouquetError } from '../../core/errors/index.ts';

/** What the agent hears from the coordinator. */
export interface CoordinatorHandlers {
  onRegistered(m: RegisteredMessage): void;
  onAssignment(m: AssignmentMessage): void;
  onError(e: BouquetError): void;
  /** The socket opened (true) or dropped (false); after a drop it reconnects and registers again. */
  onConnection(connected: boolean): void;
}

/** The coordinator as the volunteer agent uses it (the WebSocket client below, or a test double). */
export interface VolunteerCoordinator {
  /**
   * Connects; on every (re)connection answers the coordinator's challenge with `registration(nonce)`
   * (the register message signed for that nonce) before anything else.
   */
  start(registration: (nonce: string) => Promise<RegisterMessage>, handlers: CoordinatorHandlers): void;
  /** Sends a heartbeat or ready message; dropped while disconnected (the next registration carries the state). */
  send(m: HeartbeatMessage | ReadyMessage): void;
  /** Says goodbye and stops reconnecting. */
  leave(): Promise<void>;
}

/** The part of the WebSocket API used here (browser WebSocket and the `ws` package both fit). */
export type { WebSocketLike } from '../../core/api/index.ts';

/** Options of the WebSocket coordinator client. */
export interface WebSocketCoordinatorOptions {
  /** Server origin, e.g. http://127.0.0.1:8787 (ws: or http: both work). */
  origin: string;
  /** Opens a socket; default the global WebSocket. */
  createSocket?: CreateSocket;
  /** First reconnect delay, ms (doubles up to `reconnectMaxMs`, less up to half at random). Default 250. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Reconnects in a row before giving up (reported through onError with code 'offline'). Default 120 (≈ 5 min at the 5 s cap). */
  maxReconnects?: number;
  /** Uniform generator in [0, 1) for the reconnect jitter (default Math.random). */
  random?: () => number;
}

/** Volunteer client of the coordinator's WebSocket API. */
export class WebSocketCoordinator implements VolunteerCoordinator {
  private socket: CoordinatorSocket<CoordinatorToVolunteerMessage> | undefined;
  private connected = false;

  constructor(private readonly options: WebSocketCoordinatorOptions) {}

  start(registration: (nonce: string) => Promise<RegisterMessage>, handlers: CoordinatorHandlers): void {
    const o = this.options;
    const client = new CoordinatorClient({ origin: o.origin, fetch: () => Promise.reject(new Error('the volunteer socket makes no REST calls')), ...(o.createSocket !== undefined ? { createSocket: o.createSocket } : {}) });
    this.socket = client.openSocket(apiPaths.volunteerSocket, parseCoordinatorToVolunteerMessage, {
      onOpen: () => {
        this.connected = true;
        handlers.onConnection(true);
      },
      onMessage: (m) => {
        switch (m.type) {
          case 'challenge': {
            const socket = this.socket;
            registration(m.nonce).then((r) => socket?.send(r), (e: unknown) => handlers.onError(
              new CoordinatorApiError('identity-refused', `could not sign the registration: ${e instanceof Error ? e.message : String(e)}`),
            ));
            break;
          }
          case 'registered':
            handlers.onRegistered(m);
            break;
          case 'assignment':
            handlers.onAssignment(m);
            break;
          case 'error':
            handlers.onError(apiErrorFromWire(m.error));
            break;
          default: {
            const never: never = m;
            handlers.onError(new CoordinatorApiError('bad-request', `unknown message ${JSON.stringify(never)}`));
          }
        }
      },
      onInvalid: (e) => handlers.onError(e),
      onClose: (retryInMs) => {
        if (this.connected) handlers.onConnection(false);
        this.connected = false;
        if (retryInMs === null) handlers.onError(new CoordinatorApiError('offline', `the coordinator at ${o.origin} stayed unreachable after ${o.maxReconnects ?? 120} reconnects; reload the page to try again`));
      },
    }, {
      firstMs: o.reconnectBaseMs ?? 250, maxMs: o.reconnectMaxMs ?? 5000, maxAttempts: o.maxReconnects ?? 120,
      ...(o.random !== undefined ? { random: o.random } : {}),
    });
  }

  send(m: HeartbeatMessage | ReadyMessage): void {
    this.socket?.send(m);
  }

  async leave(): Promise<void> {
    const s = this.socket;
    if (s === undefined) return;
    if (s.send({ type: 'leave' })) {
      // Let the message go before the close frame.
      await new Promise((r) => setTimeout(r, 20));
    }
    s.close(1000, 'leave');
  }
}
