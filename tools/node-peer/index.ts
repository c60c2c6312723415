// Node peers: volunteers and swarm clients outside a browser (node-datachannel WebRTC, in-thread wasm or Dawn WebGPU). Node only: browser code never imports this.
export { installNodeWebRtc, createNodeTransport } from './webrtc.ts';
export { DiskKeyStore, identityKeyStore, volunteerIdentity, type VolunteerKeyStore, type StoredKeyPair } from './key-store.ts';
export { startNodeVolunteer, nodeVolunteerMemoryBytes, nodeRuntimeBackend, openServedWeights, type NodeVolunteer, type NodeVolunteerOptions } from './volunteer.ts';
export { decideNodeBackend, type NodeBackendChoice, type NodeBackendDecision } from '../dawn/index.ts';
export { startNodeClient, type NodeClient, type NodeClientOptions, type NodeGeneration } from './client.ts';
export { RedialingTransport, type RedialOptions } from './retrying-transport.ts';
