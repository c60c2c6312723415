// Node peers: volunteers and swarm clients outside a browser (node-datachannel WebRTC, in-thread wasm). Node only: browser code never imports this.
export { installNodeWebRtc, createNodeTransport } from './webrtc.ts';
export { DiskKeyStore, identityKeyStore, volunteerIdentity, type VolunteerKeyStore, type StoredKeyPair } from './key-store.ts';
export { startNodeVolunteer, nodeBackend, openServedWeights, type NodeVolunteer, type NodeVolunteerOptions, type NodeBackendChoice } from './volunteer.ts';
export { startNodeClient, type NodeClient, type NodeClientOptions, type NodeGeneration } from './client.ts';
export { RedialingTransport, type RedialOptions } from './retrying-transport.ts';
