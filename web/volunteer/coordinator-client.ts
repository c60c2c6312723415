// The volunteer's line to the coordinator: one WebSocket (core/api messages), re-registering after every reconnect.
import {
  apiErrorFromWire, apiPaths, parseCoordinatorToVolunteerMessage, parseJsonWith, CoordinatorApiError,
  type AssignmentMessage, type HeartbeatMessage, type ReadyMessage, type RegisterMessage, type RegisteredMessage,
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
  /** Connects; on every (re)connection sends `registration()` first. */
  start(registration: () => RegisterMessage, handlers: CoordinatorHandlers): void;
  /** Sends a heartbeat or ready message; dropped while disconnected (the next registration carries the state). */
  send(m: HeartbeatMessage | ReadyMessage): void;
  /** Says goodbye and stops reconnecting. */
  leave(): Promise<void>;
}

/** The part of the WebSocket API used here (browser WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

/** Options of the WebSocket coordinator client. */
export interface WebSocketCoordinatorOptions {
  /** Server origin, e.g. http://127.0.0.1:8787 (ws: or http: both work). */
  origin: string;
  /** Opens a socket; default the global WebSocket. */
  createSocket?: (url: string) => WebSocketLike;
  /** First reconnect delay, ms (doubles up to `reconnectMaxMs`). Default 250. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

const wsOpen = 1;

/** Volunteer client of the coordinator's WebSocket API. */
export class WebSocketCoordinator implements VolunteerCoordinator {
  private socket: WebSocketLike | undefined;
  private stopped = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private registration: (() => RegisterMessage) | undefined;
  private handlers: CoordinatorHandlers | undefined;
  private readonly url: string;

  constructor(private readonly options: WebSocketCoordinatorOptions) {
    const u = new URL(apiPaths.volunteerSocket, options.origin);
    u.protocol = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:';
    this.url = u.toString();
  }

  start(registration: () => RegisterMessage, handlers: CoordinatorHandlers): void {
    this.registration = registration;
    this.handlers = handlers;
    this.connect();
  }

  send(m: HeartbeatMessage | ReadyMessage): void {
    if (this.socket?.readyState === wsOpen) this.socket.send(JSON.stringify(m));
  }

  async leave(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const s = this.socket;
    if (s?.readyState === wsOpen) {
      s.send(JSON.stringify({ type: 'leave' }));
      // Let the message go before the close frame.
      await new Promise((r) => setTimeout(r, 20));
      s.close(1000, 'leave');
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const create = this.options.createSocket ?? ((url: string): WebSocketLike => new WebSocket(url));
    let s: WebSocketLike;
    try {
      s = create(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = s;
    let opened = false;
    s.addEventListener('open', () => {
      opened = true;
      this.attempt = 0;
      this.handlers?.onConnection(true);
      const reg = this.registration?.();
      if (reg !== undefined) s.send(JSON.stringify(reg));
    });
    s.addEventListener('message', (ev) => {
      const text = typeof ev.data === 'string' ? ev.data : String(ev.data);
      const parsed = parseJsonWith(text, parseCoordinatorToVolunteerMessage);
      if (!parsed.ok) {
        this.handlers?.onError(parsed.error);
        return;
      }
      const m = parsed.value;
      switch (m.type) {
        case 'registered':
          this.handlers?.onRegistered(m);
          break;
        case 'assignment':
          this.handlers?.onAssignment(m);
          break;
        case 'error':
          this.handlers?.onError(apiErrorFromWire(m.error));
          break;
        default: {
          const never: never = m;
          this.handlers?.onError(new CoordinatorApiError('bad-request', `unknown message ${JSON.stringify(never)}`));
        }
      }
    });
    s.addEventListener('close', () => {
      if (this.socket !== s) return;
      this.socket = undefined;
      if (opened) this.handlers?.onConnection(false);
      this.scheduleReconnect();
    });
    s.addEventListener('error', () => {
      // 'close' follows; nothing else to do.
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const base = this.options.reconnectBaseMs ?? 250;
    const max = this.options.reconnectMaxMs ?? 5000;
    const delay = Math.min(max, base * 2 ** this.attempt);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
