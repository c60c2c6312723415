// Where a volunteer keeps its key pair: the storage seam (a tab keeps it in IndexedDB), and the Node peer's 0600 file in a state dir.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VolunteerIdentity, type KeyStore } from '../../web/volunteer/index.ts';

/** A volunteer's ECDSA P-256 key pair as JWKs (what a store keeps between runs). */
export interface StoredKeyPair {
  publicKey: JsonWebKey;
  privateKey: JsonWebKey;
}

/** Keeps a volunteer's key pair between runs (a tab: IndexedDB; a Node peer: {@link DiskKeyStore}). */
export interface VolunteerKeyStore {
  /** The stored pair, or null when none is kept yet. */
  load(): Promise<StoredKeyPair | null>;
  /** Replaces the stored pair. */
  save(pair: StoredKeyPair): Promise<void>;
}

/** A key pair file readable by its owner only (0600), in a state dir made 0700 if missing. */
export class DiskKeyStore implements VolunteerKeyStore {
  readonly file: string;

  constructor(stateDir: string, fileName = 'volunteer-key.json') {
    this.file = path.join(stateDir, fileName);
  }

  async load(): Promise<StoredKeyPair | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const raw: unknown = JSON.parse(text);
    const pair = raw as Partial<StoredKeyPair> | null;
    // A damaged file is not trusted: a fresh pair replaces it.
    if (pair === null || typeof pair !== 'object' || typeof pair.publicKey !== 'object' || typeof pair.privateKey !== 'object') return null;
    return { publicKey: pair.publicKey, privateKey: pair.privateKey };
  }

  async save(pair: StoredKeyPair): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Written under a temporary name with 0600 from the start, then renamed: never a readable half-file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(pair), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
  }
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/**
 * The identity's KeyStore over a JWK store: pairs are imported on load (the private key
 * non-extractable in memory) and exported on save; a pair that does not import is replaced by a fresh one.
 */
export function identityKeyStore(store: VolunteerKeyStore): KeyStore {
  return {
    extractable: true,
    load: async () => {
      const stored = await store.load().catch(() => null);
      if (stored === null) return undefined;
      try {
        return {
          publicKey: await crypto.subtle.importKey('jwk', stored.publicKey, ecdsa, true, ['verify']),
          privateKey: await crypto.subtle.importKey('jwk', stored.privateKey, ecdsa, false, ['sign']),
        };
      } catch {
        return undefined; // not a P-256 pair: replaced
      }
    },
    save: async (pair) => {
      await store.save({ publicKey: await crypto.subtle.exportKey('jwk', pair.publicKey), privateKey: await crypto.subtle.exportKey('jwk', pair.privateKey) });
    },
  };
}

/** The volunteer's identity from `store`, making and saving a fresh ECDSA P-256 pair the first time, so a restarted Node peer keeps its key and peer id. */
export function volunteerIdentity(store: VolunteerKeyStore): Promise<VolunteerIdentity> {
  return VolunteerIdentity.load(identityKeyStore(store));
}
