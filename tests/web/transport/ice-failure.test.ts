// Why ICE found no path, in the person's words: the TURN server refused the login, does not answer, or there is no TURN.
import { describe, expect, it } from 'vitest';
import { describeIceFailure } from '../../../web/transport/index.ts';

describe('describeIceFailure', () => {
  it('names a TURN login refusal (401), a silent TURN server (701), and a network with no TURN configured', () => {
    const turnUrl = 'turn:10.77.1.1:3478?transport=udp';
    expect(describeIceFailure([{ url: turnUrl, errorCode: 401, errorText: 'Unauthorized' }], true).problem).toBe('turn-refused');
    expect(describeIceFailure([{ url: turnUrl, errorCode: 701, errorText: '' }], true).problem).toBe('turn-unreachable');
    // A STUN server's own error says nothing about TURN.
    expect(describeIceFailure([{ url: 'stun:10.77.1.1:3478', errorCode: 701, errorText: '' }], false).problem).toBe('no-turn');
    expect(describeIceFailure([], true).problem).toBe('no-path-with-turn');
    expect(describeIceFailure([{ url: turnUrl, errorCode: 401, errorText: 'Unauthorized' }], true).text).toContain(turnUrl);
  });
});
