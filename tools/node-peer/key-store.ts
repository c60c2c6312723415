// Where a volunteer keeps its key pair: the storage seam (a tab keeps it in IndexedDB), and the Node peer's 0600 file in a state dir.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

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

/** Base64 SPKI of a P-256 public key (what a volunteer registers with). */
async function spkiBase64(publicKey: CryptoKey): Promise<string> {
  return Buffer.from(await crypto.subtle.exportKey('spki', publicKey)).toString('base64');
}

/**
 * The volunteer's public key (base64 SPKI) from `store`, making and saving a fresh ECDSA P-256 pair
 * the first time (or when the stored one does not import), so a restarted Node peer keeps its identity.
 */
export async function volunteerPublicKey(store: VolunteerKeyStore): Promise<string> {
  const stored = await store.load().catch(() => null);
  if (stored !== null) {
    try {
      const key = await crypto.subtle.importKey('jwk', stored.publicKey, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      return await spkiBase64(key);
    } catch {
      // not a P-256 public key: replaced below
    }
  }
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  await store.save({ publicKey: await crypto.subtle.exportKey('jwk', pair.publicKey), privateKey: await crypto.subtle.exportKey('jwk', pair.privateKey) });
  return spkiBase64(pair.publicKey);
}
