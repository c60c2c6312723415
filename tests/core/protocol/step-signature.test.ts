// A step answer carries the volunteer's signature (frame version 4): it round-trips, is absent when empty, and an oversized one is refused.
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, maxStepSignatureBytes, PeerError, type Frame } from '../../../core/protocol/index.ts';

const answer: Frame = { type: 'step-result', id: 7, sessionId: 's', stepIndex: 3, dtype: 'fp16', hidden: { rows: 1, cols: 4, data: Float32Array.from([1, -2, 0.5, 3]) } };

describe('signed step answers', () => {
  it('keep their signature across the wire, and have none when the host signs nothing', () => {
    const signed = { ...answer, signature: 'A'.repeat(86) };
    expect(decodeFrame(encodeFrame(signed))).toEqual(signed);
    expect(decodeFrame(encodeFrame(answer))).toEqual(answer);
  });

  it('refuse a signature longer than the bound, on both sides', () => {
    let code: string | undefined;
    try {
      encodeFrame({ ...answer, signature: 'A'.repeat(maxStepSignatureBytes + 1) });
    } catch (e) {
      code = e instanceof PeerError ? e.code : 'not a PeerError';
    }
    expect(code).toBe('bad-frame');
    const bytes = new Uint8Array(encodeFrame({ ...answer, signature: 'A'.repeat(maxStepSignatureBytes) }));
    // Claim a longer signature than the bound in its u16 length field (the last field of the body).
    const at = bytes.length - maxStepSignatureBytes - 2;
    new DataView(bytes.buffer).setUint16(at, maxStepSignatureBytes + 1, true);
    expect(() => decodeFrame(bytes)).toThrow(PeerError);
  });
});
