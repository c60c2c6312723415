// Bans survive a restart: a key convicted on recomputed evidence is refused (code banned) by a server restarted on the same state dir; a damaged or hostile ban file never stops the server.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { apiPaths, base64url, type VerifyEvidence } from '../../../core/api/index.ts';
import { emptyInputsDigest, stepSigningText } from '../../../core/verify/index.ts';
import { BanList, bansFile, maxBanReasonChars, type BouquetServer } from '../../../server/index.ts';
import { VolunteerIdentity } from '../../../web/volunteer/index.ts';
import { budget, json, TestServers, TestVolunteer } from '../helpers.ts';

const swarmOf = new TestServers();
const dirs: string[] = [];
afterEach(async () => {
  await swarmOf.cleanUp();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function stateDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'bouquet-bans-'));
  dirs.push(d);
  return d;
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/**
 * Evidence that `liar` answered block 0 of stories260K (d = 64) with zeros, signed with its key; the
 * other claim's signature is garbage (it counts for nothing). The coordinator recomputes and convicts the liar.
 */
async function wrongResultEvidence(liar: VolunteerIdentity, other: VolunteerIdentity): Promise<VerifyEvidence> {
  const inputs = new Float32Array(64).map((_, i) => Math.sin(i + 1));
  const inputBytes = new Uint8Array(inputs.buffer);
  const output = new Uint8Array(64 * 4); // zeros: not what block 0 computes
  const inputsDigest = sha256(new Uint8Array([...emptyInputsDigest, ...inputBytes]));
  const statement = { leaseId: '', sessionId: 's1', stepIndex: 0, inputsDigest, outputDigest: sha256(output) };
  const claim = async (id: VolunteerIdentity, signature?: string) => ({
    peerId: id.peerId, publicKey: id.publicKey, leaseId: '', sessionId: 's1', stepRows: [1], output: base64url(output),
    signature: signature ?? (await id.sign(stepSigningText(statement))),
  });
  return {
    clientId: 'checker', span: { start: 0, end: 1 }, dtype: 'fp32', inputs: base64url(inputBytes),
    claims: [await claim(liar), await claim(other, base64url(new Uint8Array(64)))],
  };
}

/** The code a registration of `identity` is answered with ('registered' when accepted). */
async function registerCode(s: BouquetServer, identity: VolunteerIdentity): Promise<string> {
  const v = await TestVolunteer.connect(s.url, { identity, memoryBytes: budget(5, 5) });
  swarmOf.volunteers.push(v);
  const answer = v.next((m) => m.type === 'registered' || m.type === 'error');
  await v.register();
  const m = await answer;
  return m.type === 'error' ? m.error.code : m.type;
}

describe('bans in the state dir', () => {
  it('a key banned on recomputed evidence is still refused (code banned) after the server restarts on the same state dir', async () => {
    const dir = await stateDir();
    const liar = await VolunteerIdentity.load();
    const other = await VolunteerIdentity.load();
    const honest = await VolunteerIdentity.load();
    const first = await swarmOf.start({ stateDir: dir });
    const verdict = await json(first.url + apiPaths.verifyEvidence, { body: await wrongResultEvidence(liar, other) });
    expect(verdict.body).toMatchObject({ kind: 'verdict', outcome: 'banned', bannedPeerIds: [liar.peerId] });
    expect(await registerCode(first, liar)).toBe('banned');
    await first.close();
    expect((await stat(path.join(dir, bansFile))).mode & 0o777).toBe(0o600);

    const second = await swarmOf.start({ stateDir: dir });
    expect(await registerCode(second, liar)).toBe('banned');
    // Only the convicted key: the one whose claim did not verify, and a stranger, join.
    expect(await registerCode(second, other)).toBe('registered');
    expect(await registerCode(second, honest)).toBe('registered');
    // Without the state dir nothing is remembered.
    const third = await swarmOf.start({ stateDir: await stateDir() });
    expect(await registerCode(third, liar)).toBe('registered');
  }, 60_000);

  it('a damaged, hostile or oversized ban file is read for what is valid in it, logged, and never stops the server', async () => {
    const dir = await stateDir();
    const file = path.join(dir, bansFile);
    const good = { peerId: 'vk-good-ban', atMs: 1, reason: 'x'.repeat(5000) };
    await writeFile(file, [
      'not json',
      JSON.stringify({ peerId: 'has spaces and /', atMs: 1, reason: 'r' }),
      JSON.stringify({ peerId: 'vk-nan', atMs: 'soon', reason: 'r' }),
      JSON.stringify([1, 2, 3]),
      `{"peerId": "vk-long", "atMs": 1, "reason": "${'y'.repeat(4000)}"}`,
      JSON.stringify({ ...good, reason: 'short' }),
      '{"peerId": "vk-cut', // a write cut short
    ].join('\n'), { mode: 0o600 });
    const lines: { msg: string; skipped?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; skipped?: number }) });
    const list = BanList.inStateDir(dir, logger);
    expect(list.size).toBe(1);
    expect(list.has('vk-good-ban')).toBe(true);
    expect(lines.find((l) => l.skipped !== undefined)?.skipped).toBe(6);
    // The file now holds just the valid ban; a new ban is appended with its reason cut to the bound.
    list.ban('vk-second', 2, good.reason);
    const kept = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { peerId: string; reason: string });
    expect(kept.map((k) => k.peerId)).toEqual(['vk-good-ban', 'vk-second']);
    expect(kept[1]?.reason.length).toBe(maxBanReasonChars);

    // A ban file that is a folder (or unreadable): the server starts, without bans, and says so.
    const odd = await stateDir();
    await rm(path.join(odd, bansFile), { force: true });
    await mkdir(path.join(odd, bansFile));
    const s = await swarmOf.start({ stateDir: odd });
    expect(await registerCode(s, await VolunteerIdentity.load())).toBe('registered');
  }, 60_000);
});
