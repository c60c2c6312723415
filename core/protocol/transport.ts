// The Transport contract: peer-to-peer connections that carry packets (≤ maxMessageBytes each), in order.

/** One open, ordered, reliable connection to a remote peer (a WebRTC data channel, or in memory). */
export interface PeerConnection {
  /** Peer id of the other side. */
  readonly remotePeerId: string;
  /** Largest packet `send` accepts, bytes (Chromium data channels: 262144). */
  readonly maxMessageBytes: number;
  /** False once either side closed the connection. */
  readonly isOpen: boolean;
  /**
   * Sends one packet. Resolves when the transport can take the next one (it paces on its send
   * buffer); rejects with PeerError('peer-unavailable') when the connection is closed and with
   * PeerError('oversize') for a packet over `maxMessageBytes`.
   */
  send(packet: ArrayBuffer): Promise<void>;
  /** Registers a packet handler; packets that arrived before the first handler are delivered to it. Returns an unsubscribe function. */
  onMessage(handler: (packet: ArrayBuffer) => void): () => void;
  /** Registers a handler called once when the connection closes (either side, or the transport). */
  onClose(handler: (reason: string) => void): () => void;
  /** Closes the connection; the other side's onClose handlers run. */
  close(): void;
}

/** Options of `Transport.connect`. */
export interface ConnectOptions {
  /** Give up after this long, ms (then PeerError('timeout')). */
  timeoutMs?: number;
}

/** A peer's endpoint: dial other peers by id, accept their connections. */
export interface Transport {
  /** This peer's id, as others dial it. */
  readonly peerId: string;
  /** Opens a connection to `remotePeerId`; rejects with PeerError('peer-unavailable' | 'timeout'). */
  connect(remotePeerId: string, options?: ConnectOptions): Promise<PeerConnection>;
  /** Registers a handler for incoming connections. Returns an unsubscribe function. */
  onConnection(handler: (conn: PeerConnection) => void): () => void;
  /** Closes every connection and stops accepting new ones. */
  close(): void;
}
