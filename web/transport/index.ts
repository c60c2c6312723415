// Peer transports for the browser: the Transport contract over PeerJS (WebRTC data channels).
export { PeerJsTransport, describeIceFailure, type PeerJsTransportOptions, type SelectedCandidatePair, type IceProblem } from './peerjs-transport.ts';
