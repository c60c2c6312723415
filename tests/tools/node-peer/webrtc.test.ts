// Node's WebRTC for PeerJS: remote candidates that fail once the connection has closed must never reject (PeerJS would crash the process on them).
import { afterEach, describe, expect, it } from 'vitest';
import { installNodeWebRtc } from '../../../tools/node-peer/webrtc.ts';

// The RTCPeerConnection PeerJS gets in Node (node-datachannel's, with the ordering fixes), as installed for it.
installNodeWebRtc();
type Connection = RTCPeerConnection;
const Installed = (globalThis as unknown as { RTCPeerConnection: new () => Connection }).RTCPeerConnection;

// Loopback only: no ICE servers, and the one remote candidate names 127.0.0.1.
const hostCandidate = { candidate: 'candidate:1 1 UDP 2122252543 127.0.0.1 50000 typ host', sdpMid: '0' };

const open: Connection[] = [];
function connection(): Connection {
  const pc = new Installed();
  open.push(pc);
  return pc;
}
afterEach(() => {
  for (const pc of open.splice(0)) pc.close();
});

/** An offer from a second connection with a data channel, as PeerJS's dialer makes one. */
async function offer(): Promise<RTCSessionDescriptionInit> {
  const dialer = connection();
  dialer.createDataChannel('bouquet');
  const o = await dialer.createOffer();
  await dialer.setLocalDescription(o);
  return o;
}

describe("Node's RTCPeerConnection for PeerJS", () => {
  it('adds a candidate that came before the remote description once it is set', async () => {
    const pc = connection();
    const early = pc.addIceCandidate(hostCandidate);
    await pc.setRemoteDescription(await offer());
    await expect(early).resolves.toBeUndefined();
  });

  it('still reports a malformed candidate while the connection is open', async () => {
    const pc = connection();
    await pc.setRemoteDescription(await offer());
    await expect(pc.addIceCandidate({ candidate: 'garbage', sdpMid: '0' })).rejects.toThrow();
  });

  it('resolves a candidate that comes after close', async () => {
    const pc = connection();
    await pc.setRemoteDescription(await offer());
    pc.close();
    await expect(pc.addIceCandidate(hostCandidate)).resolves.toBeUndefined();
  });

  it('resolves candidates held for the remote description when close() comes while they are added', async () => {
    const pc = connection();
    const first = pc.addIceCandidate(hostCandidate);
    // Closed as soon as the first held candidate is in: the second is added to a destroyed connection.
    const closed = first.then(() => pc.close());
    const second = pc.addIceCandidate({ ...hostCandidate, candidate: hostCandidate.candidate.replace('50000', '50001') });
    const described = pc.setRemoteDescription(await offer());
    await closed;
    await expect(second).resolves.toBeUndefined();
    await described;
  });
});
