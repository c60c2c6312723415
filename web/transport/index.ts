// Peer transports for the browser: the Transport contract over PeerJS (WebRTC data channels).
export { PeerJsTransport, describeIceFailure, type PeerJsTransportOptions } from './peerjs-transport.ts';
