// A Transport that redials: a libdatachannel data connection now and then never opens (the ICE pair is never nominated); a second dial does.
import { PeerError, type ConnectOptions, type PeerConnection, type Transport } from '../../core/protocol/index.ts';
import type { PeerJsTransport } from '../../web/transport/index.ts';

/** How a Node peer dials: short tries, a few of them, within the caller's whole timeout. */
export interface RedialOptions {
  /** One try's limit, ms (default 3000: a loopback or LAN connection opens within about 1 s here). */
  attemptMs?: number;
  /** Tries at most (default 3). */
  attempts?: number;
}

/**
 * Wraps a PeerJsTransport so `connect` retries a timed-out dial (never a 'peer-unavailable': the peer
 * is not on the signaling server). The caller's timeout still bounds the whole.
 */
export class RedialingTransport implements Transport {
  constructor(readonly inner: PeerJsTransport, private readonly options: RedialOptions = {}) {}

  get peerId(): string {
    return this.inner.peerId;
  }

  async connect(remotePeerId: string, options: ConnectOptions = {}): Promise<PeerConnection> {
    const end = Date.now() + (options.timeoutMs ?? 10_000);
    const attempts = this.options.attempts ?? 3;
    for (let i = 0; ; i++) {
      const left = end - Date.now();
      const timeoutMs = Math.max(1, Math.min(this.options.attemptMs ?? 3000, left));
      try {
        return await this.inner.connect(remotePeerId, { timeoutMs });
      } catch (e) {
        const retry = e instanceof PeerError && e.code === 'timeout' && i + 1 < attempts && end - Date.now() > 0;
        if (!retry) throw e;
      }
    }
  }

  onConnection(handler: (conn: PeerConnection) => void): () => void {
    return this.inner.onConnection(handler);
  }

  close(): void {
    this.inner.close();
  }
}
