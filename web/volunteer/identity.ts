// A volunteer's identity: an ECDSA P-256 key pair (WebCrypto), kept in IndexedDB in a tab; its peer id is derived from the public key.
import { get, set } from 'idb-keyval';
import { base64url, peerIdFromDigest, registerChallengeText, signalingText } from '../../core/api/index.ts';

/** Where a key pair lives between page loads. */
export interface KeyStore {
  /** The store keeps keys as exported bytes (a Node peer's file), so a new pair must be extractable (a tab's IndexedDB keeps CryptoKeys: it need not). */
  readonly extractable?: boolean;
  load(): Promise<CryptoKeyPair | undefined>;
  save(pair: CryptoKeyPair): Promise<void>;
}

/** The tab's IndexedDB (idb-keyval), under `name`: the private key is stored non-extractable (structured clone of the CryptoKey). */
export function indexedDbKeyStore(name = 'bouquet-volunteer-key'): KeyStore {
  return {
    load: async () => {
      const v: unknown = await get(name);
      return isKeyPair(v) ? v : undefined;
    },
    save: (pair) => set(name, pair),
  };
}

/**
 * The page's key store: IndexedDB, one key per volunteer tab of this browser. Each tab holds a Web
 * Lock on a slot for its life, so two volunteer tabs never share a key (and so a peer id); a tab
 * reloaded later gets its slot's key back. Without Web Locks: slot 0.
 */
export async function tabKeyStore(maxSlots = 16): Promise<KeyStore> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks === undefined) return indexedDbKeyStore();
  for (let slot = 0; slot < maxSlots; slot++) {
    const name = `bouquet-volunteer-key-${slot}`;
    const got = await new Promise<boolean>((resolve) => {
      void locks.request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        // Held until the tab goes away.
        return lock === null ? undefined : new Promise<never>(() => undefined);
      });
    });
    if (got) return indexedDbKeyStore(name);
  }
  return memoryKeyStore();
}

/** A store for this process only (Node tests, or a tab without IndexedDB: a new identity per load). */
export function memoryKeyStore(): KeyStore {
  let pair: CryptoKeyPair | undefined;
  return {
    load: () => Promise.resolve(pair),
    save: (p) => {
      pair = p;
      return Promise.resolve();
    },
  };
}

function isKeyPair(v: unknown): v is CryptoKeyPair {
  const p = v as { privateKey?: unknown; publicKey?: unknown } | null;
  return typeof p === 'object' && p !== null && typeof CryptoKey !== 'undefined' && p.privateKey instanceof CryptoKey && p.publicKey instanceof CryptoKey;
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ecdsaSha256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * The key pair a volunteer proves itself with. Its peer id (`vk-` + SHA-256 of the SPKI) is bound to
 * it: the coordinator admits a registration under that id only with a signature of a fresh challenge,
 * the signaling server only with `signalingToken()`. The private key never leaves WebCrypto.
 */
export class VolunteerIdentity {
  private constructor(
    private readonly pair: CryptoKeyPair,
    /** The public key, base64 SPKI (the register message's `publicKey`). */
    readonly publicKey: string,
    private readonly spki: Uint8Array,
    /** The key-bound peer id. */
    readonly peerId: string,
  ) {}

  /** The identity in `store`, or a new one saved there. */
  static async load(store: KeyStore = memoryKeyStore()): Promise<VolunteerIdentity> {
    let pair = await store.load().catch(() => undefined);
    if (pair === undefined) {
      pair = await crypto.subtle.generateKey(ecdsa, store.extractable === true, ['sign', 'verify']);
      await store.save(pair).catch(() => undefined); // no storage: this identity lasts as long as the page
    }
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', spki));
    return new VolunteerIdentity(pair, base64(spki), spki, peerIdFromDigest(digest));
  }

  /** ECDSA P-256 / SHA-256 signature of `text`, base64url (IEEE P1363 r‖s, as the server checks it). */
  async sign(text: string): Promise<string> {
    const sig = await crypto.subtle.sign(ecdsaSha256, this.pair.privateKey, new TextEncoder().encode(text));
    return base64url(new Uint8Array(sig));
  }

  /** The answer to a registration challenge. */
  signChallenge(nonce: string): Promise<string> {
    return this.sign(registerChallengeText(nonce, this.peerId));
  }

  /** The PeerJS `token` the signaling server admits this peer id with: `spki.signature`, base64url. */
  async signalingToken(): Promise<string> {
    return `${base64url(this.spki)}.${await this.sign(signalingText(this.peerId))}`;
  }
}
