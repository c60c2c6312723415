// Peer error frames: any Bouquet error crosses as the same class, code and data; an unknown code is a bad-frame, not a crash.
import { describe, expect, it } from 'vitest';
import { BouquetError, type ErrorCode } from '../../../core/errors/index.ts';
import {
  FrameLink, MemoryNetwork, PeerError, decodeFrame, encodeFrame, errorFrame, errorFromFrame, type ErrorFrame,
} from '../../../core/protocol/index.ts';
import { RuntimeError } from '../../../worker/index.ts';
import { errorSamples } from '../errors/samples.ts';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof PeerError) return e.code;
    throw e;
  }
  return 'no error';
}

/** Two linked peers over the in-memory transport; `handler` answers every request of the client. */
async function linkedPair(handler: () => never): Promise<FrameLink> {
  const net = new MemoryNetwork();
  const server = net.createTransport('volunteer');
  const client = net.createTransport('client');
  server.onConnection((conn) => new FrameLink(conn).serve(handler));
  return new FrameLink(await client.connect('volunteer'));
}

describe('peer error frames', () => {
  it('carry every error class as the same class, code and data', () => {
    for (const { error, kind } of errorSamples()) {
      const f = decodeFrame(encodeFrame(errorFrame(error, 7)));
      if (f.type !== 'error') throw new BouquetError('internal', `decoded a ${f.type} frame`);
      const back = errorFromFrame(f);
      expect(back).toBeInstanceOf(kind);
      expect([back.code, back.message]).toEqual([error.code, error.message]);
      if (error instanceof PeerError) expect(back.data).toEqual({ ...error.data, re: 7 });
      else expect(back.data).toEqual(error.data);
    }
  });

  it('refuse an error frame with an unknown code as bad-frame', () => {
    const bogus: ErrorFrame = { type: 'error', id: 3, code: 'exploded' as ErrorCode, message: 'm' };
    expect(codeOf(() => decodeFrame(encodeFrame(bogus)))).toBe('bad-frame');
  });

  it('send a non-Bouquet error as internal', () => {
    const f = decodeFrame(encodeFrame(errorFrame(new TypeError('x is undefined'), 2)));
    expect(f.type === 'error' && [f.code, errorFromFrame(f).constructor]).toEqual(['internal', BouquetError]);
  });

  it('bring a runtime error thrown by a serving peer back as a RuntimeError with its code (not remapped)', async () => {
    const link = await linkedPair(() => {
      throw new RuntimeError('session-exists', 'session s1 is already open');
    });
    const answer = link.request<'open-session'>({ type: 'open-session', sessionId: 's1', span: { start: 0, end: 1 }, maxLength: 8, dtype: 'fp32' }, 2000);
    await expect(answer).rejects.toBeInstanceOf(RuntimeError);
    await expect(answer).rejects.toMatchObject({ code: 'session-exists' });
    link.close();
  });

  it('bring a handler bug back as internal', async () => {
    const link = await linkedPair(() => {
      throw new TypeError('cannot read properties of undefined');
    });
    const answer = link.request<'close'>({ type: 'close', sessionId: 's1' }, 2000);
    await expect(answer).rejects.toMatchObject({ code: 'internal' });
    link.close();
  });
});
