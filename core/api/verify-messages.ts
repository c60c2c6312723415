// Verified results on the coordinator API: the evidence a client submits when two volunteers disagree on a step, and the verdict.
import type { BlockSpan } from '../swarm/index.ts';
import { FieldError, object, str, num, oneOf, list, optional, span, run, positiveTokens, checkId, type Obj, type Parsed } from './validate-fields.ts';

/**
 * Largest evidence inputs accepted, bytes of tensor data (decoded): 6 MiB holds 768 fp32 tokens of a
 * 2048-wide model; the evidence body may be 9 MiB of JSON with the base64url text. A longer session
 * cannot be submitted: the client then fails over without asking for a ban.
 */
export const maxEvidenceInputBytes = 6 * 1024 * 1024;
/** Largest output one claim may carry, bytes (one decode row of a 65,536-wide model in fp32). */
export const maxEvidenceOutputBytes = 256 * 1024;
/** Longest body the evidence endpoint reads, bytes. */
export const maxEvidenceBodyBytes = 9 * 1024 * 1024;
/** Longest base64url signature (a P-256 P1363 signature is 86 characters). */
const maxSignatureLength = 256;

/** One volunteer's signed answer to the compared step. */
export interface StepClaim {
  peerId: string;
  /** Its public key, base64 SPKI: it must be the key the peer id is bound to (or registered with). */
  publicKey: string;
  /** The lease its session was opened with ('' for none). */
  leaseId: string;
  /** The client's session id on that volunteer. */
  sessionId: string;
  /** Rows of each step that volunteer ran, in order; they sum to the evidence's input rows, the last is the compared step. */
  stepRows: number[];
  /** Its output of the compared step, wire bytes (the session's dtype), base64url. */
  output: string;
  /** Its signature of core/verify's stepSigningText for that answer, base64url. */
  signature: string;
}

/** POST `apiPaths.verifyEvidence`: two volunteers answered the same step on the same inputs differently. */
export interface VerifyEvidence {
  clientId: string;
  modelId?: string;
  /** Blocks both volunteers ran. */
  span: BlockSpan;
  /** Wire precision of the sessions. */
  dtype: 'fp32' | 'fp16';
  /** Every input row both sessions ran up to and including the compared step, wire bytes, base64url. */
  inputs: string;
  /** The two claims (the checked volunteer's first). */
  claims: StepClaim[];
}

/**
 * The coordinator's verdict. `banned`: it recomputed the step and these keys' signed outputs are
 * wrong (they are banned). `no-fault`: every signed output it could check is right. `unproven`: the
 * evidence convicts no one (a signature that does not verify, inputs that do not match the digests).
 */
export interface VerifyVerdict {
  kind: 'verdict';
  outcome: 'banned' | 'no-fault' | 'unproven';
  bannedPeerIds: string[];
  message: string;
}

function claim(v: unknown, path: string): StepClaim {
  const o = object(v, path);
  const leaseId = o.leaseId === '' ? '' : str(o, 'leaseId', path);
  return {
    peerId: str(o, 'peerId', path),
    publicKey: str(o, 'publicKey', path, 8192),
    leaseId,
    sessionId: str(o, 'sessionId', path),
    stepRows: list(o, 'stepRows', path, (x, p) => {
      const n = num({ n: x }, 'n', p, positiveTokens);
      return n;
    }),
    output: str(o, 'output', path, Math.ceil((maxEvidenceOutputBytes * 4) / 3) + 4),
    signature: str(o, 'signature', path, maxSignatureLength),
  };
}

/** Validates a VerifyEvidence body (bounded: inputs, outputs, two claims). */
export function parseVerifyEvidence(raw: unknown): Parsed<VerifyEvidence> {
  return run((): VerifyEvidence => {
    const o: Obj = object(raw, '');
    const claims = list(o, 'claims', '', claim);
    if (claims.length !== 2) throw new FieldError('claims', 'claims must hold exactly two signed answers');
    if (claims[0]?.peerId === claims[1]?.peerId) throw new FieldError('claims.1.peerId', 'the two claims must come from two volunteers');
    const e: VerifyEvidence = {
      clientId: checkId(o.clientId, 'clientId'),
      span: span(o.span, 'span'),
      dtype: oneOf(o, 'dtype', '', ['fp32', 'fp16'] as const),
      inputs: str(o, 'inputs', '', Math.ceil((maxEvidenceInputBytes * 4) / 3) + 4),
      claims,
    };
    const modelId = optional(o, 'modelId', () => str(o, 'modelId', ''));
    if (modelId !== undefined) e.modelId = modelId;
    return e;
  });
}

/** Validates a VerifyVerdict (the client reads it). */
export function parseVerifyVerdict(raw: unknown): Parsed<VerifyVerdict> {
  return run((): VerifyVerdict => {
    const o = object(raw, '');
    if (o.kind !== 'verdict') throw new FieldError('kind', "kind must be 'verdict'");
    return {
      kind: 'verdict',
      outcome: oneOf(o, 'outcome', '', ['banned', 'no-fault', 'unproven'] as const),
      bannedPeerIds: list(o, 'bannedPeerIds', '', (x, p) => checkId(x, p)),
      message: str(o, 'message', '', 4096),
    };
  });
}
