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
