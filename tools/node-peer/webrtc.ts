// Node's WebRTC for PeerJS: installs node-datachannel's RTCPeerConnection polyfill, `ws` as WebSocket and the few page globals PeerJS reads, once.
import polyfill from 'node-datachannel/polyfill';
import { WebSocket as NodeWebSocket } from 'ws';
import type { PeerJsTransport, PeerJsTransportOptions } from '../../web/transport/index.ts';

let installed = false;

/**
 * The polyfill's RTCPeerConnection with the spec's operations chain for remote descriptions and
 * candidates: PeerJS adds a trickled candidate as soon as it arrives, which may be while the answer
 * is still being applied; a browser queues it, libdatachannel refuses it ("remote candidate without
 * ICE transport") and PeerJS then drops the connection.
 */
class ChainedPeerConnection extends polyfill.RTCPeerConnection {
  #chain: Promise<unknown> = Promise.resolve();

  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.#queue(() => super.setRemoteDescription(description));
  }

  override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    return this.#queue(() => super.addIceCandidate(candidate ?? undefined));
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
