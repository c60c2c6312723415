// Test helpers: a scripted volunteer speaking the coordinator API over a real WebSocket, and JSON fetch.
import http from 'node:http';
import WebSocket from 'ws';
import {
  apiPaths,
  registerChallengeText,
  parseCoordinatorToVolunteerMessage,
  type AssignmentMessage,
  type CoordinatorToVolunteerMessage,
  type RegisterMessage,
  type VolunteerMessage,
} from '../../core/api/index.ts';
import { protocolVersion } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { createServer, type BouquetServer, type ServerOptions } from '../../server/index.ts';
import { VolunteerIdentity } from '../../web/volunteer/index.ts';

/** Model of the tests: the real stories260K checkpoint (5 blocks). */
export const stories260K = '../shared/models/stories260K';

/** stories260K at fp32 with 512-token sessions: one block's weights, bytes. */
export const blockBytes = 181_760;
/** stories260K: one session's cache for one block (512 tokens), bytes. */
export const cacheBytesPerBlock = 131_072;
/** Memory for `blocks` blocks plus `slots` single-block caches, bytes. */
export function budget(blocks: number, slots: number): number {
  return blocks * blockBytes + slots * cacheBytesPerBlock;
}

/**
 * What each test server gets unless the test says otherwise: quick placement, one request at a time, and no
 * reconnect grace (scripted volunteers that join with loaded spans are placed at once; tests of the grace set it).
 */
const testCoordinator: NonNullable<ServerOptions['coordinator']> = { placementDelayMs: 5, workload: { concurrentRequests: 1 }, reconnectGraceMs: 0 };

/**
 * The servers, scripted volunteers and raw sockets one test file starts, closed by `cleanUp()` (its
 * afterEach). `defaults` are that file's own server options (e.g. `coordinator: { keyBoundPeerIds: false }`
 * for hand-picked peer ids); a test's own options go over them, `coordinator` field by field.
 */
export class TestServers {
  readonly servers: BouquetServer[] = [];
  readonly volunteers: TestVolunteer[] = [];
  /** Raw sockets a test opened (WebSocket: terminate, net.Socket: destroy). */
  readonly sockets: ({ terminate(): void } | { destroy(): void })[] = [];

  constructor(private readonly defaults: Partial<ServerOptions> = {}) {}

  /** A server on a free port (model stories260K, silent logs). */
  async start(options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
    const s = await createServer({
      port: 0, model: stories260K, logger: 'silent', ...this.defaults, ...options,
      coordinator: { ...testCoordinator, ...this.defaults.coordinator, ...options.coordinator },
    });
    this.servers.push(s);
    return s;
  }

  /** A scripted volunteer registered with `s` (closed by `cleanUp`). */
  async join(s: { url: string }, o: TestVolunteerOptions): Promise<TestVolunteer> {
    const v = await TestVolunteer.join(s.url, o);
    this.volunteers.push(v);
    return v;
  }

  /**
   * Scripted volunteers registered with `s` at once: each connects and signs its registration first,
   * then all are sent back to back, so they land in one placement batch even on a loaded machine
   * (parallel `join`s can spread over more than the batch window there).
   */
  async joinTogether(s: { url: string }, all: readonly TestVolunteerOptions[]): Promise<TestVolunteer[]> {
    const vs = await Promise.all(all.map((o) => TestVolunteer.connect(s.url, o)));
    this.volunteers.push(...vs);
    const registrations = await Promise.all(vs.map((v) => v.registration()));
    // Each call sends before its first await, so the map sends them all back to back.
    await Promise.all(vs.map((v, i) => v.sendRegistration(registrations[i] ?? {}, all[i] ?? {})));
    return vs;
  }

  /** Closes everything started (sockets first, then volunteers, then servers). */
  async cleanUp(): Promise<void> {
    for (const s of this.sockets.splice(0)) {
      if ('terminate' in s) s.terminate();
      else s.destroy();
    }
    await Promise.all(this.volunteers.splice(0).map((v) => v.close()));
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }
}

/** Options of a scripted volunteer. */
export interface TestVolunteerOptions {
  /**
   * A hand-picked peer id (the server must run with `keyBoundPeerIds: false`); default the identity's
   * key-bound one.
   */
  peerId?: string;
  /** Its key pair (default a fresh one); the registration signs the server's challenge with it. */
  identity?: VolunteerIdentity;
  /** Signed leases it reports running (register and heartbeats). */
  sessions?: string[];
  memoryBytes: number;
  decodeMsPerBlock?: number;
  modelId?: string;
  loadedSpan?: BlockSpan;
  /** Protocol version it registers with (default this build's `protocolVersion`). */
  protocolVersion?: number;
  /** Answer every assignment with `ready` at once (default true). */
  autoReady?: boolean;
  /** Send heartbeats at this period, ms (default: none). */
  heartbeatMs?: number;
}

/** A volunteer tab stand-in: real WebSocket, real messages, no block runtime (mock of the browser part). */
export class TestVolunteer {
  readonly messages: CoordinatorToVolunteerMessage[] = [];
  span: BlockSpan | null = null;
  private readonly waiters: { pred: (m: CoordinatorToVolunteerMessage) => boolean; resolve: (m: CoordinatorToVolunteerMessage) => void }[] = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  closedWith: number | undefined;
  /** Its peer id (hand-picked, or the identity's). */
  readonly peerId: string;

  private constructor(
    readonly ws: WebSocket,
    readonly options: TestVolunteerOptions,
    readonly identity: VolunteerIdentity,
  ) {
    this.peerId = options.peerId ?? identity.peerId;
    ws.on('message', (data: WebSocket.RawData) => {
      const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)).toString('utf8');
      const parsed = parseCoordinatorToVolunteerMessage(JSON.parse(text));
      if (!parsed.ok) throw parsed.error;
      const m = parsed.value;
      this.messages.push(m);
      if (m.type === 'assignment' && (options.autoReady ?? true)) this.ready(m);
      for (const w of [...this.waiters]) {
        if (w.pred(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    ws.on('close', (code) => {
      this.closedWith = code;
      this.stopHeartbeats();
    });
  }

  /** Connects and registers; resolves after `registered`. */
  static async join(baseUrl: string, options: TestVolunteerOptions): Promise<TestVolunteer> {
    const v = await TestVolunteer.connect(baseUrl, options);
    await v.sendRegistration(await v.registration(), options);
    return v;
  }

  /** Sends a signed registration (at once, before any await) and resolves after `registered`, heartbeating if `options` ask. */
  async sendRegistration(reg: RegisterMessage | Record<string, unknown>, options: Pick<TestVolunteerOptions, 'heartbeatMs'>): Promise<void> {
    const registered = this.next((m) => m.type === 'registered' || m.type === 'error');
    this.send(reg);
    const answer = await registered;
    if (answer.type === 'error') throw new Error(`register refused: ${answer.error.code}: ${answer.error.message}`);
    if (options.heartbeatMs !== undefined) this.startHeartbeats(options.heartbeatMs);
  }

  /** Opens the socket and waits for the server's challenge (no registration yet). */
  static async connect(baseUrl: string, options: TestVolunteerOptions): Promise<TestVolunteer> {
    const identity = options.identity ?? (await VolunteerIdentity.load());
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + apiPaths.volunteerSocket);
    // Listening before the socket opens: the challenge is the server's first message.
    const v = new TestVolunteer(ws, options, identity);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await v.challenge();
    return v;
  }

  /** The nonce of this socket's challenge. */
  async challenge(): Promise<string> {
    const m = this.messages.find((x) => x.type === 'challenge') ?? (await this.next((x) => x.type === 'challenge'));
    if (m.type !== 'challenge') throw new Error('not a challenge');
    return m.nonce;
  }

  /** The register message, signed for this socket's challenge (`over` replaces fields, e.g. a forged peerId). */
  async registration(over: Partial<RegisterMessage> = {}): Promise<RegisterMessage> {
    const options = this.options;
    const reg: RegisterMessage = {
      type: 'register',
      peerId: this.peerId,
      publicKey: this.identity.publicKey,
      memoryBytes: options.memoryBytes,
      decodeMsPerBlock: options.decodeMsPerBlock ?? 1,
      prefillMsPerBlock: { perTokenMs: 0.05, fixedMs: 1 },
      backend: 'wasm',
      modelId: options.modelId ?? 'stories260K',
      protocolVersion: options.protocolVersion ?? protocolVersion,
    };
    if (options.loadedSpan !== undefined) reg.loadedSpan = options.loadedSpan;
    if (options.sessions !== undefined) reg.sessions = options.sessions;
    Object.assign(reg, over);
    reg.signature ??= await this.identity.sign(registerChallengeText(await this.challenge(), reg.peerId));
    return reg;
  }

  /** Sends the signed registration. */
  async register(over: Partial<RegisterMessage> = {}): Promise<void> {
    this.send(await this.registration(over));
  }

  send(m: VolunteerMessage | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(m));
  }

  ready(a: AssignmentMessage): void {
    this.span = a.span;
    if (a.span !== null) this.send({ type: 'ready', assignmentId: a.assignmentId, span: a.span });
  }

  /** The next message matching `pred` (already received ones are not replayed). */
  next(pred: (m: CoordinatorToVolunteerMessage) => boolean = () => true, timeoutMs = 5000): Promise<CoordinatorToVolunteerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.peerId}: no matching message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The last assignment received, or waits for one. */
  async assignment(timeoutMs = 5000): Promise<AssignmentMessage> {
    const last = [...this.messages].reverse().find((m) => m.type === 'assignment');
    const m = last ?? (await this.next((x) => x.type === 'assignment', timeoutMs));
    if (m.type !== 'assignment') throw new Error('not an assignment');
    return m;
  }

  startHeartbeats(periodMs: number): void {
    this.stopHeartbeats();
    this.heartbeat = setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN) {
        this.send({ type: 'heartbeat', load: { activeSessions: 0, freeCacheSlots: 10, state: 'serving' }, ...(this.options.sessions !== undefined ? { sessions: this.options.sessions } : {}) });
      }
    }, periodMs);
  }

  stopHeartbeats(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    this.stopHeartbeats();
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** JSON request → { status, body, headers }. */
export async function json(
  url: string,
  init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown), headers: res.headers };
}

/** The admin bearer header of a test server (control actions need it). */
export function adminHeaders(server: { adminToken: string }): Record<string, string> {
  return { authorization: `Bearer ${server.adminToken}` };
}

/** Waits until `check` returns true (polling every 10 ms), or fails after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw HTTP request (node:http: any header, any content type, a chosen source address) → { status, body, headers }. */
export function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<{ status: number; body: unknown; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'POST', headers: init.headers, ...(init.localAddress !== undefined ? { localAddress: init.localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // not JSON: the text as is
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
