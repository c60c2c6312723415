// The Transport contract over PeerJS data connections (WebRTC): raw serialization, our own chunking, paced sends.
import * as peerjs from 'peerjs';
import type { DataConnection, Peer, PeerOptions } from 'peerjs';
import { Backoff, CoordinatorClient, type IceServersAnswer } from '../../core/api/index.ts';
import { PacketInbox, PeerError, dataChannelMaxMessageBytes, type ConnectOptions, type PeerConnection, type Transport } from '../../core/protocol/index.ts';

/** Options of a PeerJS transport. */
export interface PeerJsTransportOptions {
  /** Signaling server origin, e.g. http://127.0.0.1:8787 (the coordinator serves PeerJS at `path`). */
  origin: string;
  /** PeerJS server mount path (default '/peerjs'). */
  path?: string;
  /** Ask for this peer id (default: the server assigns one). */
  peerId?: string;
  /**
   * The signaling token: for a volunteer's key-bound id, the one its identity signs
   * (`VolunteerIdentity.signalingToken`), without which the server refuses the id. Default: PeerJS's random one.
   */
  token?: string;
  /**
   * ICE servers. Default: the coordinator's (`apiPaths.iceServers`, what `serve --ice-servers` set,
   * TURN with short-lived credentials, asked again before they lapse); none when it has none.
   */
  iceServers?: RTCIceServer[];
  /** Time to wait for the signaling server and for each data connection, ms (default 10000). */
  timeoutMs?: number;
  /** Pause sending while this many bytes wait in the channel's buffer (default 1 MiB). */
  highWaterBytes?: number;
  /** PeerJS log level 0–3 (default 0). */
  debug?: 0 | 1 | 2 | 3;
}

const peerJsMaxBuffered = 8 * 1024 * 1024;

/** The candidate pair an open connection uses: types 'host', 'srflx', 'prflx' or 'relay' (through TURN). */
export interface SelectedCandidatePair {
  peerId: string;
  localType: string;
  remoteType: string;
  /** ICE's own round-trip estimate, ms. */
  rttMs?: number;
}

/** Why ICE found no path to a peer: the `ice` data of the timeout error, and what the person is told. */
export type IceProblem = 'turn-refused' | 'turn-unreachable' | 'no-path-with-turn' | 'no-turn';

/**
 * Why a peer connection found no path, from the ICE candidate errors it saw
 * (RTCPeerConnectionIceErrorEvent: 401 = the TURN server refused the login, 701 = no answer from it).
 */
export function describeIceFailure(errors: readonly { url: string; errorCode: number; errorText: string }[], hasTurn: boolean): { problem: IceProblem; text: string } {
  const turn = errors.filter((e) => /^turns?:/.test(e.url));
  const refused = turn.find((e) => e.errorCode === 401 || e.errorCode === 403 || e.errorCode === 437);
  if (refused !== undefined) {
    return { problem: 'turn-refused', text: `the TURN server ${refused.url} refused this page's login (${refused.errorCode} ${refused.errorText}): the server's --turn-secret differs from coturn's static-auth-secret` };
  }
  const silent = turn.find((e) => e.errorCode === 701);
  if (silent !== undefined) return { problem: 'turn-unreachable', text: `the TURN server ${silent.url} does not answer${silent.errorText !== '' ? ` (${silent.errorText})` : ''}: is it running and reachable from this device?` };
  return hasTurn
    ? { problem: 'no-path-with-turn', text: 'no network path to the peer, even through the TURN relay' }
    : { problem: 'no-turn', text: 'peer unreachable: WebRTC is blocked between your networks; the operator should configure TURN (bouquet serve --ice-servers turn:… --turn-secret …)' };
}

/** The coordinator's ICE servers for `clientId`; none when it has none or does not answer (a LAN still works). */
async function coordinatorIceServers(origin: string, clientId: string): Promise<IceServersAnswer> {
  try {
    return await new CoordinatorClient({ origin }).iceServers(clientId);
  } catch {
    return { kind: 'ice-servers', iceServers: [], expiresAtMs: null };
  }
}
// Bundlers load peerjs's ES module (a named export); Node loads its CommonJS build, whose exports Node
// cannot name statically, so `Peer` sits on the default export there (tools/node-peer runs this file in Node).
const PeerClass: typeof Peer = (peerjs as { Peer?: typeof Peer }).Peer ?? (peerjs as unknown as { default: { Peer: typeof Peer } }).default.Peer;

class PeerJsConnection implements PeerConnection {
  readonly maxMessageBytes = dataChannelMaxMessageBytes;
  private open = true;
  private readonly inbox = new PacketInbox();
  private readonly closeHandlers = new Set<(reason: string) => void>();
  private disconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly conn: DataConnection, private readonly highWaterBytes: number) {
    conn.on('data', (data: unknown) => this.receive(data));
    conn.on('close', () => this.shut('the data channel closed'));
    conn.on('error', (e: Error) => this.shut(`data channel error: ${e.message}`));
    conn.on('iceStateChanged', (state: RTCIceConnectionState) => {
      // 'disconnected' may heal; give it a moment, then treat the peer as gone (fast failover).
      if (state === 'disconnected') this.disconnectTimer = setTimeout(() => this.close(), 3000);
      else if (state === 'connected' || state === 'completed') clearTimeout(this.disconnectTimer);
      else if (state === 'failed' || state === 'closed') this.shut(`ICE ${state}`);
    });
  }

  get remotePeerId(): string {
    return this.conn.peer;
  }

  /** The ICE candidate pair in use (getStats): `relay` on either side means the TURN server carries it. */
  async candidatePair(): Promise<SelectedCandidatePair | null> {
    const pc = this.conn.peerConnection as RTCPeerConnection | undefined;
    if (pc === undefined) return null;
    const stats = await pc.getStats();
    let pairId: string | undefined;
    stats.forEach((r: { type: string; selectedCandidatePairId?: string }) => {
      if (r.type === 'transport' && r.selectedCandidatePairId !== undefined) pairId = r.selectedCandidatePairId;
    });
    const pair = pairId !== undefined ? (stats.get(pairId) as { localCandidateId: string; remoteCandidateId: string; currentRoundTripTime?: number } | undefined) : undefined;
    if (pair === undefined) return null;
    const local = stats.get(pair.localCandidateId) as { candidateType: string } | undefined;
    const remote = stats.get(pair.remoteCandidateId) as { candidateType: string } | undefined;
    return {
      peerId: this.remotePeerId, localType: local?.candidateType ?? '?', remoteType: remote?.candidateType ?? '?',
      ...(pair.currentRoundTripTime !== undefined ? { rttMs: pair.currentRoundTripTime * 1000 } : {}),
    };
  }

  get isOpen(): boolean {
    return this.open && this.conn.open;
  }

  async send(packet: ArrayBuffer): Promise<void> {
    if (!this.isOpen) throw new PeerError('peer-unavailable', `connection to ${this.remotePeerId} is closed`, 0, this.remotePeerId);
    if (packet.byteLength > this.maxMessageBytes) throw new PeerError('oversize', `packet of ${packet.byteLength} bytes exceeds ${this.maxMessageBytes}`);
    // Pace on the channel's buffer so a big prefill neither floods memory nor trips PeerJS's own 8 MiB buffer.
    while (this.isOpen && this.buffered() > this.highWaterBytes) await this.drained();
    if (!this.isOpen) throw new PeerError('peer-unavailable', `connection to ${this.remotePeerId} closed while sending`, 0, this.remotePeerId);
    await this.conn.send(packet);
  }

  private buffered(): number {
    const dc = this.conn.dataChannel as RTCDataChannel | undefined;
    const queued = (this.conn as unknown as { bufferSize?: number }).bufferSize ?? 0;
    return (dc?.bufferedAmount ?? 0) + (queued > 0 ? peerJsMaxBuffered : 0);
  }

  private drained(): Promise<void> {
    const dc = this.conn.dataChannel as RTCDataChannel | undefined;
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 20);
      if (dc !== undefined) {
        dc.bufferedAmountLowThreshold = Math.floor(this.highWaterBytes / 2);
        dc.addEventListener('bufferedamountlow', () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      }
    });
  }

  private receive(data: unknown): void {
    if (!this.open) return;
    let buf: ArrayBuffer;
    if (data instanceof ArrayBuffer) buf = data;
    else if (ArrayBuffer.isView(data)) buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    else buf = new ArrayBuffer(0); // a text message: not ours; the frame layer refuses it as 'bad-frame'
    this.inbox.deliver(buf);
  }

  onMessage(handler: (packet: ArrayBuffer) => void): () => void {
    return this.inbox.subscribe(handler);
  }

  onClose(handler: (reason: string) => void): () => void {
    if (!this.open) {
      queueMicrotask(() => handler('closed'));
      return () => undefined;
    }
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  close(): void {
    this.shut('closed locally');
    this.conn.close();
  }

  private shut(reason: string): void {
    if (!this.open) return;
    this.open = false;
    clearTimeout(this.disconnectTimer);
    const handlers = [...this.closeHandlers];
    this.closeHandlers.clear();
    for (const h of handlers) h(reason);
  }
}

/**
 * A peer on the PeerJS signaling server. Keeps its id across signaling outages (reconnects with
 * backoff when the server restarts); data connections already open are not affected by them.
 */
export class PeerJsTransport implements Transport {
  private readonly handlers = new Set<(c: PeerConnection) => void>();
  private readonly connections = new Set<PeerJsConnection>();
  private closed = false;
  // Signaling reconnects: jittered (tabs of a restarted server do not return in lockstep), never given up while the tab lives.
  private readonly reconnectBackoff = new Backoff({ firstMs: 250, maxMs: 5000, maxAttempts: Infinity });
  private lastId: string;
  private iceRefresh: ReturnType<typeof setTimeout> | undefined;

  private constructor(private readonly peer: Peer, private readonly options: PeerJsTransportOptions, ice: IceServersAnswer | null) {
    this.lastId = peer.id;
    if (ice !== null) this.scheduleIceRefresh(ice);
    // Signaling errors after start (server restarts, lost socket) are handled by reconnecting; an
    // 'error' listener must exist so they are not thrown.
    peer.on('error', () => undefined);
    peer.on('connection', (conn: DataConnection) => {
      conn.on('open', () => {
        if (this.closed) {
          conn.close();
          return;
        }
        const c = this.track(new PeerJsConnection(conn, this.highWater()));
        for (const h of this.handlers) h(c);
      });
    });
    peer.on('disconnected', () => this.reconnectSoon());
    peer.on('open', () => this.reconnectBackoff.reset());
  }

  /** Connects to the signaling server; resolves once this peer has its id. */
  static async create(options: PeerJsTransportOptions): Promise<PeerJsTransport> {
    const clientId = options.peerId ?? crypto.randomUUID();
    const ice = options.iceServers === undefined ? await coordinatorIceServers(options.origin, clientId) : null;
    return PeerJsTransport.open(options, ice);
  }

  private static open(options: PeerJsTransportOptions, ice: IceServersAnswer | null): Promise<PeerJsTransport> {
    const url = new URL(options.origin);
    const secure = url.protocol === 'https:';
    const peerOptions: PeerOptions = {
      host: url.hostname,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      path: options.path ?? '/peerjs',
      secure,
      debug: options.debug ?? 0,
      config: { iceServers: options.iceServers ?? ice?.iceServers ?? [] },
    };
    if (options.token !== undefined) peerOptions.token = options.token;
    const peer = options.peerId !== undefined ? new PeerClass(options.peerId, peerOptions) : new PeerClass(peerOptions);
    return new Promise((resolve, reject) => {
      // Both listeners go once settled: a later signaling error (the server restarting) must not destroy
      // the peer, which would close every open data channel.
      const settle = (): void => {
        clearTimeout(timer);
        peer.off('open', onOpen);
        peer.off('error', onError);
      };
      const onOpen = (): void => {
        settle();
        resolve(new PeerJsTransport(peer, options, ice));
      };
      const onError = (e: Error & { type?: string }): void => {
        settle();
        peer.destroy();
        reject(new PeerError('peer-unavailable', `signaling server at ${options.origin}: ${e.message} (${e.type ?? 'error'})`));
      };
      const timer = setTimeout(() => {
        settle();
        peer.destroy();
        reject(new PeerError('timeout', `no answer from the signaling server at ${options.origin} within ${options.timeoutMs ?? 10_000} ms`));
      }, options.timeoutMs ?? 10_000);
      peer.on('open', onOpen);
      peer.on('error', onError);
    });
  }

  get peerId(): string {
    // PeerJS forgets the id while disconnected from the signaling server; it is the same after reconnecting.
    if (this.peer.id !== null) this.lastId = this.peer.id;
    return this.lastId;
  }

  /** True while connected to the signaling server (new connections need it; open ones do not). */
  get signalingConnected(): boolean {
    return !this.peer.disconnected;
  }

  connect(remotePeerId: string, options: ConnectOptions = {}): Promise<PeerConnection> {
    if (this.closed) return Promise.reject(new PeerError('peer-unavailable', 'this transport is closed'));
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 10_000;
    const conn = this.peer.connect(remotePeerId, { serialization: 'raw', reliable: true });
    const iceErrors: { url: string; errorCode: number; errorText: string }[] = [];
    const pc = conn.peerConnection as RTCPeerConnection | undefined;
    pc?.addEventListener('icecandidateerror', (ev) => {
      const e = ev;
      if (iceErrors.length < 16) iceErrors.push({ url: e.url, errorCode: e.errorCode, errorText: e.errorText });
    });
    const hasTurn = this.iceServers().some((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).some((u) => /^turns?:/.test(u)));
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: PeerError | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.peer.off('error', onPeerError);
        if (err !== null) {
          conn.close();
          reject(err);
        } else {
          resolve(this.track(new PeerJsConnection(conn, this.highWater())));
        }
      };
      const timer = setTimeout(() => {
        // Still connecting means ICE found no path: say why in a person's words (TURN refused, TURN silent, no TURN).
        const why = describeIceFailure(iceErrors, hasTurn);
        finish(new PeerError('timeout', `no data connection to ${remotePeerId} within ${timeoutMs} ms: ${why.text}`, 0, remotePeerId, { ice: why.problem }));
      }, timeoutMs);
      const onPeerError = (e: Error & { type?: string }): void => {
        if (e.type === 'peer-unavailable' && e.message.includes(remotePeerId)) {
          finish(new PeerError('peer-unavailable', `peer ${remotePeerId} is not on the signaling server`, 0, remotePeerId));
        }
      };
      this.peer.on('error', onPeerError);
      conn.on('open', () => finish(null));
      conn.on('error', (e: Error) => finish(new PeerError('peer-unavailable', `connecting to ${remotePeerId}: ${e.message}`, 0, remotePeerId)));
      conn.on('close', () => finish(new PeerError('peer-unavailable', `connection to ${remotePeerId} closed while opening`, 0, remotePeerId)));
    });
  }

  onConnection(handler: (conn: PeerConnection) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** The candidate pair of every open connection (which path each takes: direct or relayed). */
  async candidatePairs(): Promise<SelectedCandidatePair[]> {
    const pairs = await Promise.all([...this.connections].filter((c) => c.isOpen).map((c) => c.candidatePair()));
    return pairs.filter((p): p is SelectedCandidatePair => p !== null);
  }

  /** The ICE servers new peer connections use now. */
  iceServers(): RTCIceServer[] {
    return (this.peer.options.config as RTCConfiguration | undefined)?.iceServers ?? [];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.iceRefresh);
    for (const c of [...this.connections]) c.close();
    this.peer.destroy();
  }

  private highWater(): number {
    return this.options.highWaterBytes ?? 1024 * 1024;
  }

  private track(c: PeerJsConnection): PeerJsConnection {
    this.connections.add(c);
    c.onClose(() => this.connections.delete(c));
    return c;
  }

  // TURN logins lapse: ask the coordinator again at 80% of their life; new connections take the new ones
  // (PeerJS reads options.config for each RTCPeerConnection), open ones keep theirs.
  private scheduleIceRefresh(ice: IceServersAnswer): void {
    if (ice.expiresAtMs === null) return;
    const inMs = Math.max(5_000, Math.min(0.8 * (ice.expiresAtMs - Date.now()), 2 ** 31 - 1));
    this.iceRefresh = setTimeout(() => {
      if (this.closed) return;
      void coordinatorIceServers(this.options.origin, this.peerId).then((next) => {
        if (this.closed) return;
        if (next.iceServers.length > 0) (this.peer.options.config as RTCConfiguration).iceServers = next.iceServers;
        this.scheduleIceRefresh(next.expiresAtMs === null ? { ...next, expiresAtMs: Date.now() + 60_000 } : next);
      });
    }, inMs);
  }

  private reconnectSoon(): void {
    if (this.closed || this.peer.destroyed) return;
    const delay = this.reconnectBackoff.next() ?? 5000;
    setTimeout(() => {
      if (this.closed || this.peer.destroyed || !this.peer.disconnected) return;
      try {
        this.peer.reconnect();
      } catch {
        this.reconnectSoon();
        return;
      }
      // If the server is still away, 'disconnected' fires again (or nothing does): check back.
      setTimeout(() => {
        if (this.peer.disconnected) this.reconnectSoon();
      }, 2000);
    }, delay);
  }
}
