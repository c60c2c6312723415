// The one typed coordinator client (REST and WebSocket) of every page, peer and tool: pure over an injected fetch and socket.
import { BouquetError } from '../errors/index.ts';
import { Backoff, type BackoffPolicy } from './backoff.ts';
import { apiErrorFromWire } from './errors.ts';
import type {
  ModelInfo, ModelsList, PlacementPolicyChanged, PlacementPolicyRequest, RouteGranted, RouteQueued, RouteReleaseRequest,
  RouteRenewRequest, RouteRequest, SwarmState,
} from './messages.ts';
import { parseFailuresAnswer, parseIceServersAnswer, type FailureRecord, type FailureReport, type IceServersAnswer } from './reach.ts';
import { apiPaths, routeReleasePath, routeRenewPath, routeTicketPath, withModelId } from './paths.ts';
import {
  parseApiErrorBody, parseModelsList, parsePlacementPolicyChanged, parseRouteReleased, parseRouteRenewed, parseRouteResponse, parseSwarmState,
  type Parsed,
} from './validate.ts';

/** The part of an AbortSignal used in core (browser and Node signals both fit). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
}

/** The part of an HTTP response used here (the browser's and Node's Response both fit). */
export interface ResponseLike {
  readonly status: number;
  text(): Promise<string>;
}

/** The part of `fetch` used here (the browser's and Node's both fit). */
export type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignalLike },
) => Promise<ResponseLike>;

/** The part of the WebSocket API used here (browser WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

/** Opens a socket to a URL. */
export type CreateSocket = (url: string) => WebSocketLike;

/** The served model, and where a worker loads it from over HTTP. */
export interface ServedModel {
  info: ModelInfo;
  /** Absolute URL of the model's folder (ends with '/'). */
  baseUrl: string;
  /** The llama2.c checkpoint file to load (HTTP cannot list a folder); absent for a Hugging Face folder. */
  checkpoint?: string;
}

/** Options of a CoordinatorClient. */
export interface CoordinatorClientOptions {
  /** Server origin, e.g. http://127.0.0.1:8787. */
  origin: string;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Default: the global WebSocket (browsers; Node ≥ 22). Node tools pass the `ws` package's. */
  createSocket?: CreateSocket;
}

/** `scheme://host[:port]` of an origin or URL (pure: no URL API in core). */
function originOf(base: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)/i.exec(base);
  if (m?.[1] === undefined) throw new BouquetError('bad-argument', `not an origin: ${JSON.stringify(base)}`, { field: 'origin' });
  return m[1];
}

/** An absolute path (as in apiPaths) on the coordinator at `origin`. */
export function coordinatorUrl(origin: string, path: string): string {
  return originOf(origin) + (path.startsWith('/') ? path : `/${path}`);
}

// llama2.c tokenizers (`tokenizer.bin`, `tok512.bin`) are not checkpoints.
const llama2cTokenizerFile = /^tok(enizer)?\d*\.bin$/;

/** Where a worker loads `info` from: the folder URL, and the checkpoint when the model is a llama2.c one. */
export function servedModelOf(info: ModelInfo, origin: string): ServedModel {
  const baseUrl = coordinatorUrl(origin, info.filesPath);
  const checkpoint = info.files.includes('config.json') ? undefined : info.files.find((f) => f.endsWith('.bin') && !llama2cTokenizerFile.test(f));
  return { info, baseUrl, ...(checkpoint !== undefined ? { checkpoint } : {}) };
}

/**
 * Reads one answer of the coordinator: the server's refusal (`{kind: 'error'}`) becomes a
 * CoordinatorApiError with the server's code; text that is not JSON or not the expected shape
 * becomes code 'bad-response' naming the field.
 */
export function readAnswer<T>(text: string, parse: (raw: unknown) => Parsed<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BouquetError('bad-response', `the coordinator's ${what} is not JSON`, { field: '(message)' });
  }
  if (typeof raw === 'object' && raw !== null && (raw as { kind?: unknown }).kind === 'error') {
    const body = parseApiErrorBody((raw as { error?: unknown }).error);
    if (body.ok) throw apiErrorFromWire(body.value);
  }
  const parsed = parse(raw);
  if (!parsed.ok) {
    throw new BouquetError('bad-response', `the coordinator sent an invalid ${what}: ${parsed.error.message}`, parsed.error.field !== undefined ? { field: parsed.error.field } : undefined);
  }
  return parsed.value;
}

function globalFetch(): FetchLike {
  const f = (globalThis as { fetch?: FetchLike }).fetch;
  if (f === undefined) throw new BouquetError('offline', 'no fetch in this environment: pass one to CoordinatorClient');
  return (url, init) => f(url, init);
}

function globalSocket(): CreateSocket {
  const W = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (W === undefined) throw new BouquetError('offline', 'no WebSocket in this environment: pass createSocket to CoordinatorClient');
  return (url) => new W(url);
}

/**
 * Talks to one coordinator. Every answer is validated (core/api/validate.ts) before it is
 * returned. Errors: 'peer-unavailable' when the coordinator cannot be reached, 'aborted' when the
 * caller's signal fired, 'bad-response' for an unreadable answer, else the server's own code
 * (CoordinatorApiError: 'no-route', 'queue-full', 'infeasible', 'bad-request'…).
 */
export class CoordinatorClient {
  readonly origin: string;
  private readonly fetchFn: FetchLike;
  private readonly createSocket: CreateSocket | undefined;

  constructor(options: CoordinatorClientOptions) {
    this.origin = options.origin;
    this.fetchFn = options.fetch ?? globalFetch();
    this.createSocket = options.createSocket;
  }

  /** GET the swarm state of one model (default: the server's first). */
  async swarmState(signal?: AbortSignalLike, modelId?: string): Promise<SwarmState> {
    return readAnswer(await this.call('GET', withModelId(apiPaths.swarm, modelId), undefined, signal), parseSwarmState, 'swarm state');
  }

  /** GET the served models, each with its coverage, and the one a new volunteer should serve. */
  async models(signal?: AbortSignalLike): Promise<ModelsList> {
    return readAnswer(await this.call('GET', apiPaths.servedModels, undefined, signal), parseModelsList, 'model list');
  }

  /** A model the coordinator serves (default: its first), and where to load it from. */
  async servedModel(signal?: AbortSignalLike, modelId?: string): Promise<ServedModel> {
    return servedModelOf((await this.swarmState(signal, modelId)).model, this.origin);
  }

  /** POST a route request: granted, or queued (poll its ticket); a refusal throws with the server's code. */
  async requestRoute(request: RouteRequest, signal?: AbortSignalLike): Promise<RouteGranted | RouteQueued> {
    return this.routeAnswer(await this.call('POST', apiPaths.routes, request, signal));
  }

  /** Long-polls a queued request's ticket for up to `waitMs`. */
  async pollTicket(ticketId: string, waitMs: number, signal?: AbortSignalLike): Promise<RouteGranted | RouteQueued> {
    return this.routeAnswer(await this.call('GET', `${routeTicketPath(ticketId)}?waitMs=${Math.round(waitMs)}`, undefined, signal));
  }

  /** Frees a lease's slots, reporting what was measured; `release.leaseSecret` is the granted one. */
  async releaseRoute(leaseId: string, release: RouteReleaseRequest): Promise<void> {
    readAnswer(await this.call('POST', routeReleasePath(leaseId), release), parseRouteReleased, 'release answer');
  }

  /** Extends a lease by its length (`leaseSecret` is the granted one). */
  async renewRoute(leaseId: string, leaseSecret: string): Promise<void> {
    const body: RouteRenewRequest = { leaseSecret };
    readAnswer(await this.call('POST', routeRenewPath(leaseId), body), parseRouteRenewed, 'renewal answer');
  }

  /**
   * Switches the placement policy in force for one model (default: the first; moves volunteers);
   * 'infeasible' leaves the old one. A control action: it needs the server's admin token (else `unauthorized`).
   */
  async switchPlacementPolicy(policy: string, options: { modelId?: string; adminToken?: string } = {}): Promise<PlacementPolicyChanged> {
    const body: PlacementPolicyRequest = options.modelId === undefined ? { policy } : { policy, modelId: options.modelId };
    const headers: Record<string, string> = options.adminToken !== undefined ? { authorization: `Bearer ${options.adminToken}` } : {};
    return readAnswer(await this.call('POST', apiPaths.placementPolicy, body, undefined, headers), parsePlacementPolicyChanged, 'policy answer');
  }

  /** The ICE servers for this client's peer connections (TURN credentials issued to `clientId`, short-lived). */
  async iceServers(clientId: string, signal?: AbortSignalLike): Promise<IceServersAnswer> {
    return readAnswer(await this.call('GET', `${apiPaths.iceServers}?clientId=${encodeURIComponent(clientId)}`, undefined, signal), parseIceServersAnswer, 'ICE servers');
  }

  /** Reports why a request failed (the coordinator logs it and lists it on the dashboard). */
  async reportFailure(report: FailureReport): Promise<void> {
    await this.call('POST', apiPaths.failures, report);
  }

  /** The failed requests clients reported, newest first (the coordinator keeps the last 50). */
  async recentFailures(signal?: AbortSignalLike): Promise<FailureRecord[]> {
    return readAnswer(await this.call('GET', apiPaths.failures, undefined, signal), parseFailuresAnswer, 'failure list').failures;
  }

  /** The ws:/wss: URL of one of the coordinator's socket endpoints (the dashboard's for one model with `modelId`). */
  socketUrl(path: typeof apiPaths.volunteerSocket | typeof apiPaths.dashboardSocket, modelId?: string): string {
    const url = coordinatorUrl(this.origin, withModelId(path, modelId));
    return url.replace(/^(https|wss):/i, 'wss:').replace(/^(http|ws):/i, 'ws:');
  }

  /** Opens a socket to one endpoint that validates each message with `parse` and reconnects with backoff. */
  openSocket<M>(
    path: typeof apiPaths.volunteerSocket | typeof apiPaths.dashboardSocket,
    parse: (raw: unknown) => Parsed<M>,
    handlers: CoordinatorSocketHandlers<M>,
    backoff: BackoffPolicy,
    modelId?: string,
  ): CoordinatorSocket<M> {
    return new CoordinatorSocket(this.socketUrl(path, modelId), this.createSocket ?? globalSocket(), parse, handlers, backoff);
  }

  private routeAnswer(text: string): RouteGranted | RouteQueued {
    const r = readAnswer(text, parseRouteResponse, 'route answer');
    if (r.kind === 'error') throw apiErrorFromWire(r.error); // readAnswer already rethrows refusals; kept for the type
    return r;
  }

  private async call(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignalLike, extraHeaders: Record<string, string> = {}): Promise<string> {
    try {
      const headers = body !== undefined ? { 'content-type': 'application/json', ...extraHeaders } : extraHeaders;
      const res = await this.fetchFn(coordinatorUrl(this.origin, path), {
        method,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal !== undefined ? { signal } : {}),
      });
      return await res.text();
    } catch (e) {
      if (signal?.aborted === true) throw new BouquetError('aborted', `request to the coordinator aborted (${method} ${path})`);
      throw new BouquetError('peer-unavailable', `the coordinator at ${this.origin} does not answer (${e instanceof Error ? e.message : String(e)})`);
    }
  }
}

/** What a coordinator socket tells its owner. */
export interface CoordinatorSocketHandlers<M> {
  /** The socket opened; `send` what must go first (a volunteer's registration). */
  onOpen(): void;
  /** A validated message. */
  onMessage(message: M): void;
  /** A message that failed validation, code 'bad-response' (kept out; the link stays). */
  onInvalid(error: BouquetError): void;
  /** The socket dropped: it reconnects after `retryInMs`, or gave up (null) after the policy's retries in a row. */
  onClose(retryInMs: number | null): void;
}

const wsOpen = 1;

// Timers of the host (browser or Node), reached without their DOM/Node types.
const timers = globalThis as unknown as { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };

/** One coordinator socket, reconnected with jittered backoff (reset on every open) until closed or out of retries. */
export class CoordinatorSocket<M> {
  private socket: WebSocketLike | undefined;
  private stopped = false;
  private timer: unknown;
  private readonly backoff: Backoff;

  constructor(
    readonly url: string,
    private readonly create: CreateSocket,
    private readonly parse: (raw: unknown) => Parsed<M>,
    private readonly handlers: CoordinatorSocketHandlers<M>,
    policy: BackoffPolicy,
  ) {
    this.backoff = new Backoff(policy);
    this.connect();
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.socket?.readyState === wsOpen;
  }

  /** Sends a message when open; returns false (and drops it) otherwise. */
  send(message: unknown): boolean {
    if (this.socket?.readyState !== wsOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Stops reconnecting and closes the socket. */
  close(code = 1000, reason = 'closed'): void {
    this.stopped = true;
    timers.clearTimeout(this.timer);
    const s = this.socket;
    this.socket = undefined;
    s?.close(code, reason);
  }

  private connect(): void {
    if (this.stopped) return;
    let s: WebSocketLike;
    try {
      s = this.create(this.url);
    } catch {
      this.retry();
      return;
    }
    this.socket = s;
    s.addEventListener('open', () => {
      if (this.socket !== s) return;
      this.backoff.reset();
      this.handlers.onOpen();
    });
    s.addEventListener('message', (ev) => {
      if (this.socket !== s) return;
      const text = typeof ev.data === 'string' ? ev.data : String(ev.data);
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        this.handlers.onInvalid(new BouquetError('bad-response', "the coordinator's message is not JSON", { field: '(message)' }));
        return;
      }
      const parsed = this.parse(raw);
      if (parsed.ok) this.handlers.onMessage(parsed.value);
      else {
        const field = parsed.error.field;
        this.handlers.onInvalid(new BouquetError('bad-response', `the coordinator sent an invalid message: ${parsed.error.message}`, field !== undefined ? { field } : undefined));
      }
    });
    s.addEventListener('close', () => {
      if (this.socket !== s) return;
      this.socket = undefined;
      this.retry();
    });
    s.addEventListener('error', () => {
      // 'close' follows.
    });
  }

  private retry(): void {
    if (this.stopped) return;
    const waitMs = this.backoff.next();
    this.handlers.onClose(waitMs);
    if (waitMs === null) {
      this.stopped = true;
      return;
    }
    this.timer = timers.setTimeout(() => this.connect(), waitMs);
  }
}
