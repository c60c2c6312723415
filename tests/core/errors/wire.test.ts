// The one error model: every class crosses its wire form as the same class, code and data; bad wire data is refused.
import { describe, expect, it } from 'vitest';
import { BouquetError, errorCodes, errorFromWire, errorKinds, errorToWire, parseWireError } from '../../../core/errors/index.ts';
import { errorSamples } from './samples.ts';

function roundTrip(e: unknown): BouquetError {
  const w = parseWireError(JSON.parse(JSON.stringify(errorToWire(e))));
  if (w === null) throw new BouquetError('internal', 'the wire form did not parse');
  return errorFromWire(w);
}

describe('error wire form', () => {
  it('rebuilds every error class as the same class, with the same code, message and data', () => {
    for (const { error, kind } of errorSamples()) {
      const back = roundTrip(error);
      expect(back).toBeInstanceOf(kind);
      expect(back).toBeInstanceOf(BouquetError);
      expect([back.name, back.code, back.message]).toEqual([error.name, error.code, error.message]);
      expect(back.data).toEqual(error.data);
    }
  });

  it('keeps the class getters over data working after the trip (re, peerId, field, reason, policy)', () => {
    const [peer, , api, scenario, , , infeasible, , unknown] = errorSamples().map((s) => roundTrip(s.error));
    expect(peer).toMatchObject({ re: 7, peerId: 'v1' });
    expect(api).toMatchObject({ field: 'modelId' });
    expect(scenario).toMatchObject({ field: 'scenario.servers[3].memoryBytes', problem: 'must be > 0' });
    expect(infeasible).toMatchObject({ reason: 'the servers hold 3 of 5 blocks' });
    expect(unknown).toMatchObject({ policy: 'fastest' });
  });

  it('registers every sample class under its own name', () => {
    for (const { error, kind } of errorSamples()) expect(errorKinds().get(error.name)).toBe(kind);
  });

  it('sends a non-Bouquet error as internal', () => {
    for (const thrown of [new TypeError('x is not a function'), 'a string', { code: 'cache-full' }]) {
      const back = roundTrip(thrown);
      expect(back.constructor).toBe(BouquetError);
      expect(back.code).toBe('internal');
    }
  });

  it('refuses an unknown code, a missing message and non-flat data', () => {
    expect(parseWireError({ kind: 'PeerError', code: 'exploded', message: 'm' })).toBeNull();
    expect(parseWireError({ code: 'timeout' })).toBeNull();
    expect(parseWireError({ code: 'timeout', message: 'm', data: [1, 2] })).toBeNull();
    expect(parseWireError(null)).toBeNull();
    expect(parseWireError({ code: 'timeout', message: 'm', data: { nested: { a: 1 }, ok: 1 } })?.data).toEqual({ ok: 1 });
  });

  it('rebuilds an unknown kind as a BouquetError with its code', () => {
    const back = errorFromWire({ kind: 'SomethingElse', code: 'queue-full', message: 'm' });
    expect(back.constructor).toBe(BouquetError);
    expect(back.code).toBe('queue-full');
  });

  it('has each code once', () => {
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
  });
});
