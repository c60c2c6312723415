// WebRTC dictionary types that lib.dom has and tools'/bin's libs (ES2023 + WebWorker, no DOM) lack: web/transport and the Node polyfill name them.
// Only the tools and bin configs include this file (tests/ and web/ compile with DOM, which declares these).
interface RTCIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}
type RTCIceConnectionState = 'checking' | 'closed' | 'completed' | 'connected' | 'disconnected' | 'failed' | 'new';
type RTCSdpType = 'answer' | 'offer' | 'pranswer' | 'rollback';
interface RTCSessionDescriptionInit {
  sdp?: string;
  type: RTCSdpType;
}
interface RTCIceCandidateInit {
  candidate?: string;
  sdpMLineIndex?: number | null;
  sdpMid?: string | null;
  usernameFragment?: string | null;
}
interface RTCConfiguration {
  iceServers?: RTCIceServer[];
}
interface RTCPeerConnectionIceErrorEvent {
  readonly url: string;
  readonly errorCode: number;
  readonly errorText: string;
}
/** What web/transport asks of a peer connection: its stats (candidate pairs) and ICE errors. */
interface RTCPeerConnection {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- lib.dom types the report entries as any too
  getStats(): Promise<ReadonlyMap<string, any>>;
  addEventListener(type: 'icecandidateerror', listener: (ev: RTCPeerConnectionIceErrorEvent) => void): void;
}
