// Verified results on the coordinator: judging a client's evidence of a mismatch (signatures, input digests, a recomputation) and the list of banned keys.
import { createHash } from 'node:crypto';
import { fromBase64url, type StepClaim, type VerifyEvidence, type VerifyVerdict } from '../../core/api/index.ts';
import { dtypeBytes, float16BitsToFloat32 } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import {
  compareOutputs, toleranceFor, emptyInputsDigest, stepSigningText, type VerifyTolerance,
} from '../../core/verify/index.ts';
import { p256KeyFromSpki, peerIdOfSpki, spkiFromText, verifySignature } from '../identity/index.ts';
import type { Logger } from 'pino';
import { BanStore, maxBanReasonChars } from './ban-store.ts';

/**
 * Recomputes one step: runs `inputs` (rows × d, float32) through blocks `span` in a fresh session and
 * resolves with the output of the last row. The coordinator's own in-process runtime (recompute.ts).
 */
export type StepRecomputer = (span: BlockSpan, inputs: Float32Array, rows: number) => Promise<Float32Array>;

/** Keys banned at most (oldest forgotten first): a ban list strangers can grow must be bounded too. */
export const maxBannedKeys = 100_000;

/**
 * Keys (peer ids, which are key-bound) the coordinator banned for a confirmed wrong result. With a
 * store (`createServer` with a state dir) the bans are read back at start and each new one is written,
 * so a restart forgets none.
 */
export class BanList {
  private readonly banned = new Map<string, { atMs: number; reason: string }>();

  constructor(private readonly store?: BanStore) {
    for (const r of store?.loaded ?? []) this.remember(r.peerId, r.atMs, r.reason);
  }

  /** A list kept in `<stateDir>/bans.jsonl` (see BanStore). */
  static inStateDir(stateDir: string, log: Logger): BanList {
    return new BanList(BanStore.inStateDir(stateDir, maxBannedKeys, log));
  }

  ban(peerId: string, atMs: number, reason: string): void {
    const cut = reason.slice(0, maxBanReasonChars);
    this.remember(peerId, atMs, cut);
    this.store?.append({ peerId, atMs, reason: cut }, () => [...this.banned].map(([id, b]) => ({ peerId: id, ...b })));
  }

  private remember(peerId: string, atMs: number, reason: string): void {
    this.banned.delete(peerId);
    this.banned.set(peerId, { atMs, reason });
    if (this.banned.size > maxBannedKeys) {
      const oldest = this.banned.keys().next().value;
      if (oldest !== undefined) this.banned.delete(oldest);
    }
  }

  has(peerId: string): boolean {
    return this.banned.has(peerId);
  }

  get size(): number {
    return this.banned.size;
  }
}

/** What the judge needs of the coordinator. */
export interface JudgeDeps {
  /** d: width of the hidden states. */
  hiddenSize: number;
  /** The registered public key of a peer id present now, if any (ids not key-bound must match it). */
  registeredKey(peerId: string): string | undefined;
  /** Absent: the coordinator cannot recompute (then nothing is banned). */
  recompute?: StepRecomputer;
  tolerance?: VerifyTolerance;
}

/** One claim, checked: its output when its signature and input digests hold, else why not. */
type CheckedClaim = { ok: true; claim: StepClaim; output: Float32Array } | { ok: false; claim: StepClaim; why: string };

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function toFloat32(bytes: Uint8Array, dtype: 'fp32' | 'fp16'): Float32Array {
  const copy = bytes.slice().buffer;
  return dtype === 'fp32' ? new Float32Array(copy) : float16BitsToFloat32(new Uint16Array(copy));
}

/**
 * Judges evidence: a claim counts only when its public key is the one its peer id is bound to (or
 * registered with), its signature covers exactly these inputs (the running digest over its own step
 * partition) and this output. The step is then recomputed here and every counted claim outside the
 * tolerance is banned. A client that tampers with inputs or outputs breaks the signature, so an honest
 * volunteer is never banned on a client's word: the verdict is 'unproven' or 'no-fault'.
 */
export async function judgeEvidence(e: VerifyEvidence, deps: JudgeDeps): Promise<VerifyVerdict> {
  const d = deps.hiddenSize;
  const inputBytes = fromBase64url(e.inputs);
  const width = d * dtypeBytes(e.dtype);
  if (inputBytes === null || inputBytes.byteLength === 0 || inputBytes.byteLength % width !== 0) {
    return { kind: 'verdict', outcome: 'unproven', bannedPeerIds: [], message: `inputs must be whole rows of ${d} ${e.dtype} values` };
  }
  const rows = inputBytes.byteLength / width;
  const checked = e.claims.map((c) => checkClaim(c, e, inputBytes, rows, width, deps));
  const counted = checked.filter((c): c is Extract<CheckedClaim, { ok: true }> => c.ok);
  if (counted.length === 0) {
    return { kind: 'verdict', outcome: 'unproven', bannedPeerIds: [], message: `no claim holds: ${checked.map((c) => (c.ok ? '' : `${c.claim.peerId}: ${c.why}`)).join('; ')}` };
  }
  if (deps.recompute === undefined) {
    return { kind: 'verdict', outcome: 'unproven', bannedPeerIds: [], message: 'this coordinator cannot recompute steps' };
  }
  const reference = await deps.recompute(e.span, toFloat32(inputBytes, e.dtype), rows);
  const wrong: string[] = [];
  const diffs: string[] = [];
  for (const c of counted) {
    const cmp = compareOutputs(c.output, reference.subarray(reference.length - c.output.length), toleranceFor(e.dtype, deps.tolerance));
    diffs.push(`${c.claim.peerId}: ${cmp.maxRelDiff.toExponential(2)}`);
    if (!cmp.within) wrong.push(c.claim.peerId);
  }
  if (wrong.length > 0) return { kind: 'verdict', outcome: 'banned', bannedPeerIds: wrong, message: `recomputed; relative differences ${diffs.join(', ')}` };
  return { kind: 'verdict', outcome: 'no-fault', bannedPeerIds: [], message: `recomputed; every signed output is right (${diffs.join(', ')})` };
}

function checkClaim(c: StepClaim, e: VerifyEvidence, inputBytes: Uint8Array, rows: number, width: number, deps: JudgeDeps): CheckedClaim {
  const spki = spkiFromText(c.publicKey);
  const key = spki === null ? null : p256KeyFromSpki(spki);
  if (spki === null || key === null) return { ok: false, claim: c, why: 'not a P-256 public key' };
  const registered = deps.registeredKey(c.peerId);
  const boundHere = peerIdOfSpki(spki) === c.peerId;
  const sameAsRegistered = registered !== undefined && Buffer.from(spkiFromText(registered) ?? []).equals(Buffer.from(spki));
  if (!boundHere && !sameAsRegistered) return { ok: false, claim: c, why: 'the key is not the one this peer id is bound to' };
  if (c.stepRows.reduce((a, n) => a + n, 0) !== rows) return { ok: false, claim: c, why: `its steps cover other than the ${rows} input rows` };
  const output = fromBase64url(c.output);
  const lastRows = c.stepRows.at(-1) ?? 0;
  if (output === null || output.byteLength !== lastRows * width) return { ok: false, claim: c, why: 'its output is not the last step\'s rows' };
  let digest = emptyInputsDigest;
  let at = 0;
  for (const n of c.stepRows) {
    const part = inputBytes.subarray(at * width, (at + n) * width);
    const buf = new Uint8Array(digest.byteLength + part.byteLength);
    buf.set(digest, 0);
    buf.set(part, digest.byteLength);
    digest = sha256(buf);
    at += n;
  }
  const text = stepSigningText({ leaseId: c.leaseId, sessionId: c.sessionId, stepIndex: c.stepRows.length - 1, inputsDigest: digest, outputDigest: sha256(output) });
  if (!verifySignature(key, text, c.signature)) return { ok: false, claim: c, why: 'the signature does not cover these inputs and this output' };
  return { ok: true, claim: c, output: toFloat32(output, e.dtype) };
}
