// The Transport contract over PeerJS data connections (WebRTC): raw serialization, our own chunking, paced sends.
import * as peerjs from 'peerjs';
import type { DataConnection, Peer, PeerOptions } from 'peerjs';
import { Backoff } from '../../core/api/index.ts';
import { PacketInbox, PeerError, dataChannelMaxMessageBytes, type ConnectOptions, type PeerConnection, type Transport } from '../../core/protocol/index.ts';

/** Options of a PeerJS transport. */
export interface PeerJsTransportOptions {
  /** Signaling server origin, e.g. http://127.0.0.1:8787 (the coordinator serves PeerJS at `path`). */
  origin: string;
  /** PeerJS server mount path (default '/peerjs'). */
  path?: string;
  /** Ask for this peer id (default: the server assigns one). */
  peerId?: string;
  /** ICE servers; default none (loopback and LAN tests; see platform-notes). */
  iceServers?: RTCIceServer[];
  /** Time to wait for the signaling server and for each data connection, ms (default 10000). */
  timeoutMs?: number;
  /** Pause sending while this many bytes wait in the channel's buffer (default 1 MiB). */
  highWaterBytes?: number;
  /** PeerJS log level 0–3 (default 0). */
  debug?: 0 | 1 | 2 | 3;
}

const peerJsMaxBuffered = 8 * 1024 * 1024;

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

  private constructor(private readonly peer: Peer, private readonly options: PeerJsTransportOptions) {
    this.lastId = peer.id;
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
  static create(options: PeerJsTransportOptions): Promise<PeerJsTransport> {
    const url = new URL(options.origin);
    const secure = url.protocol === 'https:';
    const peerOptions: PeerOptions = {
      host: url.hostname,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      path: options.path ?? '/peerjs',
      secure,
      debug: options.debug ?? 0,
      config: { iceServers: options.iceServers ?? [] },
    };
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
        resolve(new PeerJsTransport(peer, options));
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
      const timer = setTimeout(() => finish(new PeerError('timeout', `no data connection to ${remotePeerId} within ${timeoutMs} ms`, 0, remotePeerId)), timeoutMs);
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
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
