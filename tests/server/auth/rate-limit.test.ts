// Token buckets and address keys of fair use: refill by elapsed time, bounded key count, IPv6 keyed by /64.
import { describe, expect, it } from 'vitest';
import { addressKey, Authorizer, adminTokenScheme, RateLimiter, RouteRateLimiter } from '../../../server/index.ts';

describe('RateLimiter', () => {
  it('grants a burst, then one token per 1/perSecond, and says how long to wait', () => {
    let now = 0;
    const r = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([r.take('a'), r.take('a'), r.take('a')]).toEqual([0, 0, 0]);
    expect(r.take('a')).toBe(500);
    expect(r.take('b')).toBe(0); // another key has its own bucket
    now = 499;
    expect(r.take('a')).toBeGreaterThan(0);
    now = 1000;
    expect(r.take('a')).toBe(0);
    now = 1_000_000;
    expect([r.take('a'), r.take('a'), r.take('a'), r.take('a')].filter((w) => w === 0)).toHaveLength(3); // never more than the burst
  });

  it('keeps at most maxKeys buckets (idle ones go first)', () => {
    let now = 0;
    const r = new RateLimiter({ perSecond: 1, burst: 1 }, () => now, 100);
    for (let i = 0; i < 1000; i++) r.take(`k${i}`);
    expect(r.size).toBeLessThanOrEqual(100);
    now = 10_000;
    r.take('fresh');
    expect(r.size).toBeLessThanOrEqual(2);
  });

  it('a refused request takes no token from the other bucket', () => {
    const r = new RouteRateLimiter({ perClient: { perSecond: 1e-6, burst: 1 }, perAddress: { perSecond: 1e-6, burst: 2 } }, () => 0);
    r.take('a', '10.0.0.1');
    expect(() => r.take('a', '10.0.0.1')).toThrow(expect.objectContaining({ code: 'rate-limited' }) as Error);
    r.take('b', '10.0.0.1'); // the address still had its second token
    expect(() => r.take('c', '10.0.0.1')).toThrow(expect.objectContaining({ code: 'rate-limited', data: expect.objectContaining({ scope: 'address' }) as object }) as Error);
  });
});

describe('addressKey', () => {
  it('keys IPv4 as is (IPv4-mapped too) and IPv6 by its /64', () => {
    expect(addressKey('127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('(unknown)');
  });
});

describe('Authorizer', () => {
  const auth = new Authorizer([adminTokenScheme('the-admin-token-0123456789')]);
  it('anyone may read and ask for routes; control needs the admin token', () => {
    expect(auth.authorize({ headers: {} }, 'read')).toEqual({ kind: 'anonymous' });
    expect(auth.authorize({ headers: {} }, 'request-route')).toEqual({ kind: 'anonymous' });
    expect(() => auth.authorize({ headers: {} }, 'control')).toThrow(expect.objectContaining({ code: 'unauthorized' }) as Error);
    expect(auth.authorize({ headers: { authorization: 'Bearer the-admin-token-0123456789' } }, 'control')).toEqual({ kind: 'admin' });
    expect(auth.authorize({ headers: { authorization: 'bearer the-admin-token-0123456789' } }, 'control')).toEqual({ kind: 'admin' });
    for (const authorization of ['Bearer the-admin-token-012345678', 'Basic dGhlLWFkbWlu', 'Bearer', `Bearer ${'x'.repeat(600)}`]) {
      expect(() => auth.authorize({ headers: { authorization } }, 'control')).toThrow(expect.objectContaining({ code: 'unauthorized' }) as Error);
    }
  });
});
