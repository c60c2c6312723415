// The package's `bouquet/client` entry under Node: the browser entry's surface plus the Node swarm client and volunteer (node-datachannel WebRTC, in-thread wasm or Dawn WebGPU).
export * from './client.ts';
export {
  startNodeClient, startNodeVolunteer, installNodeWebRtc, createNodeTransport, DiskKeyStore, identityKeyStore, volunteerIdentity, decideNodeBackend,
  type NodeClient, type NodeClientOptions, type NodeGeneration, type NodeVolunteer, type NodeVolunteerOptions, type NodeBackendChoice, type NodeBackendDecision,
  type VolunteerKeyStore, type StoredKeyPair,
} from '../tools/node-peer/index.ts';
