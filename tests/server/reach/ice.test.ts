// ICE configuration: `serve --ice-servers/--turn-secret` parsed, and short-lived TURN logins handed out per client by the API.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient, parseIceServersAnswer } from '../../../core/api/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';
import { createServer, parseIceConfig, turnCredential, type BouquetServer } from '../../../server/index.ts';
import { serveOptions } from '../../../tools/cli/serve.ts';
import { stories260K } from '../helpers.ts';

describe('TURN credentials (coturn use-auth-secret)', () => {
  it('username is <expiry s>:<client id>, credential base64(HMAC-SHA1(secret, username)), expiring after the ttl', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const c = turnCredential('s3cret', 'peer-1', now, 600_000);
    expect(c.username).toBe(`${(now + 600_000) / 1000}:peer-1`);
    expect(c.credential).toBe(createHmac('sha1', 's3cret').update(c.username).digest('base64'));
    expect(c.expiresAtMs).toBe(now + 600_000);
    // A ':' in the id cannot move the expiry coturn reads (it splits at the first one).
    expect(turnCredential('s', '9999999999:x', now).username.split(':')[0]).toBe(String((now + 3600_000) / 1000));
  });
});

describe('--ice-servers', () => {
  it('splits STUN and TURN URLs, from the flag or BOUQUET_ICE_SERVERS', () => {
    expect(parseIceConfig('stun:10.0.0.1:3478, turn:10.0.0.1:3478?transport=udp', 'k')).toEqual({
      stunUrls: ['stun:10.0.0.1:3478'], turnUrls: ['turn:10.0.0.1:3478?transport=udp'], turnSecret: 'k',
    });
    const o = serveOptions([], { BOUQUET_ICE_SERVERS: 'stun:a:3478 turn:a:3478', BOUQUET_TURN_SECRET: 'k', BOUQUET_TURN_TTL_MS: '60000' });
    expect(o).toMatchObject({ ice: { stunUrls: ['stun:a:3478'], turnUrls: ['turn:a:3478'], turnSecret: 'k', turnTtlMs: 60_000 } });
  });

  it.each([
    ['http://10.0.0.1:3478', undefined],
    ['turn:user:password@10.0.0.1', 'k'], // a lasting password would reach every page
    ['turn:10.0.0.1:3478', undefined], // TURN needs the shared secret
  ])('refuses %s (code bad-argument)', (list, secret) => {
    let code: string | undefined;
    try {
      parseIceConfig(list, secret);
    } catch (e) {
      if (isBouquetError(e)) code = e.code;
    }
    expect(code).toBe('bad-argument');
    expect(() => serveOptions(['--ice-servers', list, ...(secret !== undefined ? ['--turn-secret', secret] : [])], {})).toThrow();
  });
});

describe('GET /api/ice-servers', () => {
  let server: BouquetServer;
  let refused = '';
  beforeAll(async () => {
    server = await createServer({
      model: stories260K, port: 0, logger: 'silent',
      ice: parseIceConfig('stun:10.77.1.1:3478,turn:10.77.1.1:3478', 'shared-secret', 120_000),
      // The auth module's hook: this one refuses one client.
      allowTurn: (_req, clientId) => clientId !== refused,
    });
  });
  afterAll(() => server.close());

  it('hands each client STUN and a TURN login of its own that coturn will accept until it lapses', async () => {
    const client = new CoordinatorClient({ origin: server.url });
    const before = Date.now();
    const a = await client.iceServers('peer-a');
    const b = await client.iceServers('peer-b');
    expect(a.iceServers[0]).toEqual({ urls: ['stun:10.77.1.1:3478'] });
    const turnA = a.iceServers[1];
    expect(turnA?.urls).toEqual(['turn:10.77.1.1:3478']);
    expect(turnA?.username?.endsWith(':peer-a')).toBe(true);
    expect(turnA?.credential).toBe(createHmac('sha1', 'shared-secret').update(turnA?.username ?? '').digest('base64'));
    expect(b.iceServers[1]?.username?.endsWith(':peer-b')).toBe(true);
    expect(a.expiresAtMs).toBeGreaterThanOrEqual(Math.floor((before + 120_000) / 1000) * 1000);
    expect(a.expiresAtMs).toBeLessThanOrEqual(Date.now() + 120_000);
  });

  it('gives STUN only to a client the gate refuses, and answers a missing clientId with bad-request', async () => {
    refused = 'stranger';
    const r = await new CoordinatorClient({ origin: server.url }).iceServers('stranger');
    expect(r).toEqual({ kind: 'ice-servers', iceServers: [{ urls: ['stun:10.77.1.1:3478'] }], expiresAtMs: null });
    const res = await fetch(`${server.url}/api/ice-servers`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad-request');
  });

  it('a server without --ice-servers hands out none; the answer validator refuses a non-ICE URL', async () => {
    const plain = await createServer({ model: stories260K, port: 0, logger: 'silent' });
    try {
      expect(await new CoordinatorClient({ origin: plain.url }).iceServers('x')).toEqual({ kind: 'ice-servers', iceServers: [], expiresAtMs: null });
    } finally {
      await plain.close();
    }
    expect(parseIceServersAnswer({ kind: 'ice-servers', iceServers: [{ urls: ['javascript:alert(1)'] }], expiresAtMs: null }).ok).toBe(false);
  });
});
