// The protocol version every handshake carries: a volunteer's `register` to the coordinator and a client's `open-session` to a peer.

/**
 * Version of Bouquet's swarm protocol (the coordinator socket's messages and the peer frames'
 * meaning). Bumped whenever a change would make an older peer misread a newer one; a handshake
 * carrying another version is answered `version-mismatch` and nothing else is disturbed. A
 * handshake without the field (from before versions) reads as version 0.
 */
export const protocolVersion = 2;
// 2: registration answers a signed challenge; sessions open only with a signed lease.
