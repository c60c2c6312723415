// A volunteer key pair for tests that drive the coordinator in process: node:crypto, synchronous (the same signatures WebCrypto makes).
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { base64url, peerIdFromDigest, registerChallengeText, signalingText } from '../../core/api/index.ts';

/** An ECDSA P-256 identity: key-bound peer id, base64 SPKI, IEEE P1363 signatures as base64url. */
export class NodeIdentity {
  readonly publicKey: string;
  readonly peerId: string;
  private readonly spki: Buffer;

  private constructor(private readonly privateKey: KeyObject, publicKey: KeyObject) {
    this.spki = publicKey.export({ format: 'der', type: 'spki' });
    this.publicKey = this.spki.toString('base64');
    this.peerId = peerIdFromDigest(new Uint8Array(createHash('sha256').update(this.spki).digest()));
  }

  static create(): NodeIdentity {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return new NodeIdentity(privateKey, publicKey);
  }

  sign(text: string): string {
    return base64url(new Uint8Array(sign('sha256', Buffer.from(text, 'utf8'), { key: this.privateKey, dsaEncoding: 'ieee-p1363' })));
  }

  /** The register signature for challenge `nonce` under `peerId` (default its own). */
  signChallenge(nonce: string, peerId = this.peerId): string {
    return this.sign(registerChallengeText(nonce, peerId));
  }

  /** The PeerJS signaling token for its peer id. */
  signalingToken(): string {
    return `${base64url(new Uint8Array(this.spki))}.${this.sign(signalingText(this.peerId))}`;
  }
}
