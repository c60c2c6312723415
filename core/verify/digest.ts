// What a volunteer signs for each step it answers: its session, step, lease, a running digest of every input it ran and the digest of its output.
import type { WireDtype } from '../protocol/index.ts';
import { float32ToFloat16Bits } from '../protocol/index.ts';

/** SHA-256 of bytes (WebCrypto in pages and Node, node:crypto on the server): passed in, core/ has no crypto. */
export type Sha256 = (bytes: Uint8Array) => Promise<Uint8Array>;

/** The input digest of a session before its first step: 32 zero bytes. */
export const emptyInputsDigest: Uint8Array = new Uint8Array(32);

/**
 * A tensor's bytes as they travel in `dtype` (fp32: little-endian float32; fp16: IEEE half bits):
 * what both sides hash, so the digest of a decoded frame's data equals the sender's.
 */
export function tensorWireBytes(data: Float32Array, dtype: WireDtype): Uint8Array {
  if (dtype === 'fp16') {
    const bits = float32ToFloat16Bits(data);
    return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  }
  const copy = new Float32Array(data);
  return new Uint8Array(copy.buffer);
}

/** Lowercase hex of bytes. */
export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * The running digest after one more step: SHA-256(previous ‖ the step's input wire bytes). It binds
 * a signed output to every input of the session (the KV cache it was computed on), so a client cannot
 * pair an honest volunteer's signed output with other inputs.
 */
export async function nextInputsDigest(sha256: Sha256, previous: Uint8Array, inputWireBytes: Uint8Array): Promise<Uint8Array> {
  const buf = new Uint8Array(previous.byteLength + inputWireBytes.byteLength);
  buf.set(previous, 0);
  buf.set(inputWireBytes, previous.byteLength);
  return sha256(buf);
}

/** What one signed step answer states. */
export interface StepStatement {
  /** The lease the session was opened with ('' for a session without one). */
  leaseId: string;
  /** The client's session id (as in the frames). */
  sessionId: string;
  stepIndex: number;
  /** Running digest of the session's inputs up to and including this step (nextInputsDigest). */
  inputsDigest: Uint8Array;
  /** SHA-256 of the step's output tensor, wire bytes. */
  outputDigest: Uint8Array;
}

/** The domain-separated text a volunteer signs with its identity key (ECDSA P-256 / SHA-256) for one step answer. */
export function stepSigningText(s: StepStatement): string {
  return `bouquet step v1\n${s.leaseId}\n${s.sessionId}\n${s.stepIndex}\n${hex(s.inputsDigest)}\n${hex(s.outputDigest)}`;
}
