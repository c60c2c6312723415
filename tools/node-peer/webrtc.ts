// Node's WebRTC for PeerJS: installs node-datachannel's RTCPeerConnection polyfill, `ws` as WebSocket and the few page globals PeerJS reads, once.
import polyfill from 'node-datachannel/polyfill';
import { WebSocket as NodeWebSocket } from 'ws';
import type { PeerJsTransport, PeerJsTransportOptions } from '../../web/transport/index.ts';

let installed = false;

/**
 * The polyfill's RTCPeerConnection with a browser's ordering of remote descriptions and candidates.
 * libdatachannel may emit the answerer's candidates before its answer is sent, and PeerJS adds a
 * trickled candidate as soon as it arrives (even while the answer is being applied); libdatachannel
 * refuses a candidate without a remote description ("remote candidate without ICE transport") and
 * PeerJS then drops the connection. Here candidates wait for the remote description, and
 * descriptions and candidates are applied one at a time, in order. A candidate still pending when
 * the connection closes, or failing once it has closed (also one held for the remote description
 * and added after it while close() came), resolves quietly: PeerJS (1.5.5) handles its failure by
 * reading the connection's provider, which close() nulled, and that TypeError is an unhandled
 * rejection that ends a Node process (the server hosting the OpenAI API's client, a redialing
 * `bouquet chat`, `demo --peers node`).
 */
class ChainedPeerConnection extends polyfill.RTCPeerConnection {
  #chain: Promise<unknown> = Promise.resolve();
  #haveRemote = false;
  #early: { candidate: RTCIceCandidateInit | undefined; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #closed = false;

  override close(): void {
    this.#closed = true;
    for (const c of this.#early.splice(0)) c.resolve();
    super.close();
  }

  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.#queue(async () => {
      await super.setRemoteDescription(description);
      this.#haveRemote = true;
      const early = this.#early;
      this.#early = [];
      // close() may come while these are added (it cannot reach them any more): once ended, a failure resolves.
      for (const c of early) await this.#settled(this.#addWhenReady(c.candidate)).then(c.resolve, c.reject);
    });
  }

  override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    const c = candidate ?? undefined;
    if (this.#ended()) return Promise.resolve();
    if (!this.#haveRemote) {
      // Bounded by what the signaling peer sends for one connection; PeerJS closes it on failure.
      if (this.#early.length >= 256) return Promise.reject(new Error('too many ICE candidates before the remote description'));
      return new Promise((resolve, reject) => this.#early.push({ candidate: c, resolve, reject }));
    }
    return this.#settled(this.#queue(() => this.#addWhenReady(c)));
  }

  /** `p`, except that a failure once the connection has ended resolves: PeerJS would report it on a nulled provider. */
  #settled(p: Promise<void>): Promise<void> {
    return p.catch((e: unknown) => {
      if (!this.#ended()) throw e;
    });
  }

  /**
   * Closed here, or by libdatachannel (the remote end went away): PeerJS's cleanup then skips close()
   * (its signalingState already reads 'closed') and nulls the connection's provider, so a candidate
   * failing now would reach PeerJS's `provider.emitError` on null, an unhandled rejection.
   */
  #ended(): boolean {
    if (this.#closed) return true;
    try {
      return this.signalingState === 'closed' || this.connectionState === 'closed' || this.connectionState === 'failed';
    } catch {
      return true; // the native connection is gone
    }
  }

  /** libdatachannel makes the ICE transport a moment after the descriptions; a candidate that comes first is retried (≤ 1 s). */
  async #addWhenReady(c: RTCIceCandidateInit | undefined): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await super.addIceCandidate(c);
        return;
      } catch (e) {
        if (attempt >= 50 || !(e instanceof Error) || !e.message.includes('without ICE transport')) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  #queue(op: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(op);
    this.#chain = p.catch(() => undefined);
    return p;
  }
}

/**
 * Makes `peerjs` (web/transport's PeerJsTransport) run in this Node process over real WebRTC
 * (libdatachannel). Idempotent. Only Node code calls this: it writes browser globals that a page
 * already has. Globals the process already has (Node 22's WebSocket, navigator) are kept.
 */
export function installNodeWebRtc(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as Record<string, unknown>;
  g.RTCPeerConnection = ChainedPeerConnection;
  g.RTCSessionDescription = polyfill.RTCSessionDescription;
  g.RTCIceCandidate = polyfill.RTCIceCandidate;
  g.RTCDataChannel = polyfill.RTCDataChannel;
  g.WebSocket ??= NodeWebSocket;
  // PeerJS reads location.protocol (for `secure`), navigator.userAgent/platform (browser sniffing) and window.*.
  g.location ??= { protocol: 'http:', hostname: 'localhost', href: 'http://localhost/' };
  g.navigator ??= { userAgent: 'node', platform: process.platform };
  g.window ??= globalThis;
}

/**
 * A PeerJS transport in Node. PeerJS decides at load time whether WebRTC exists, so web/transport
 * is loaded only after the polyfill is installed (a static import would load it first).
 */
export async function createNodeTransport(options: PeerJsTransportOptions): Promise<PeerJsTransport> {
  installNodeWebRtc();
  const { PeerJsTransport: Transport } = await import('../../web/transport/index.ts');
  return Transport.create(options);
}
