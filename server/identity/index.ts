// Identities and signed leases on the server: volunteers' keys, the coordinator's key, the signaling admission rule.
export { p256KeyFromSpki, spkiFromText, peerIdOfSpki, verifySignature } from './keys.ts';
export { CoordinatorKey, coordinatorKeyFile } from './coordinator-key.ts';
export { checkSignalingLogin, type SignalingRefusal } from './signaling.ts';
