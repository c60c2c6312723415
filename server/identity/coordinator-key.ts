// The coordinator's own key: signs leases (volunteers check them), derives lease secrets, survives a restart in the state dir (0600).
import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  base64url, leasePayload, leaseSigningText, parseLeaseToken, type LeaseGrant,
} from '../../core/api/index.ts';
import { BouquetError } from '../../core/errors/index.ts';
import { verifySignature } from './keys.ts';

/** File of the signing key inside the state dir (PKCS#8 PEM, owner-only). */
export const coordinatorKeyFile = 'coordinator-key.pem';

/**
 * The coordinator's ECDSA P-256 key. Leases are signed with it (a volunteer opens a session only
 * for one), lease secrets are an HMAC under a key derived from it (so a restarted coordinator still
 * knows every secret it gave out without storing any), and signed leases reported after a restart
 * are checked with it.
 */
export class CoordinatorKey {
  /** Base64 SPKI of the public key (sent to volunteers in `registered`). */
  readonly publicKey: string;
  private readonly secretKey: Buffer;

  private constructor(private readonly privateKey: KeyObject, private readonly verifyKey: KeyObject) {
    this.publicKey = verifyKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    this.secretKey = createHash('sha256').update('bouquet lease secrets v1\n').update(pkcs8).digest();
  }

  /** A key that lives as long as this process (tests, and `serve` without a state dir: a restart invalidates every lease). */
  static ephemeral(): CoordinatorKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return new CoordinatorKey(privateKey, publicKey);
  }

  /**
   * The key in `stateDir` (created with mode 0700, the key file 0600, at first start). Throws
   * BouquetError('bad-argument') when the file is readable by others or is not a P-256 key.
   */
  static inStateDir(stateDir: string): CoordinatorKey {
    const file = path.join(stateDir, coordinatorKeyFile);
    if (!existsSync(file)) {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600); // whatever the umask
    }
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new BouquetError('bad-argument', `${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(readFileSync(file));
    } catch (e) {
      throw new BouquetError('bad-argument', `${file} is not a private key: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new BouquetError('bad-argument', `${file} is not an ECDSA P-256 key`);
    }
    return new CoordinatorKey(privateKey, createPublicKey(privateKey));
  }

  /** A fresh unguessable lease id (128 random bits, base64url). */
  static newLeaseId(): string {
    return base64url(randomBytes(16));
  }

  /** The signed token `payload.signature` of `grant`. */
  signLease(grant: LeaseGrant): string {
    const payload = leasePayload(grant);
    const sig = sign('sha256', Buffer.from(leaseSigningText(payload), 'utf8'), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${payload}.${base64url(new Uint8Array(sig))}`;
  }

  /** The grant of a token this key signed, or null (malformed, or not signed by this key). */
  verifyLease(token: string): LeaseGrant | null {
    const parsed = parseLeaseToken(token);
    if (!parsed.ok) return null;
    const sig = token.slice(token.indexOf('.') + 1);
    return verifySignature(this.verifyKey, leaseSigningText(parsed.value.payload), sig) ? parsed.value.grant : null;
  }

  /** The secret of lease `leaseId`: only the client it was granted to gets it. */
  leaseSecret(leaseId: string): string {
    return base64url(new Uint8Array(createHmac('sha256', this.secretKey).update(`lease ${leaseId}`).digest()));
  }

  /** Whether `secret` is lease `leaseId`'s secret (constant time). */
  isLeaseSecret(leaseId: string, secret: string): boolean {
    const want = Buffer.from(this.leaseSecret(leaseId));
    const got = Buffer.from(secret);
    return got.byteLength === want.byteLength && timingSafeEqual(got, want);
  }

  /** The public short hash of a lease id (what dashboards show; the id cannot be recovered from it). */
  static leaseTag(leaseId: string): string {
    return createHash('sha256').update(`lease tag ${leaseId}`).digest('hex').slice(0, 12);
  }
}
