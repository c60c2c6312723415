// HTTPS for `bouquet serve`: certificates are checked before it listens (expired, wrong key → refused with a code), served over https.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiPaths } from '../../../core/api/index.ts';
import { isBouquetError } from '../../../core/errors/index.ts';
import { createServer, loadTlsCredentials, selfSignedTlsCredentials } from '../../../server/index.ts';
import { serveOptions } from '../../../tools/cli/serve.ts';
import { stories260K } from '../helpers.ts';
import { makeTestCerts, type TestCerts } from './certs.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
let certs: TestCerts;

beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => certs.remove());

function problemOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    if (isBouquetError(e, 'bad-certificate')) return e.data?.problem;
    throw e;
  }
  return 'no error';
}

describe('TLS certificates', () => {
  it('accepts a valid certificate with its key and gives its SHA-256 fingerprint', () => {
    const c = loadTlsCredentials(certs.cert, certs.key, Date.now());
    expect(c.fingerprint256).toBe(new X509Certificate(readFileSync(certs.cert)).fingerprint256);
    expect(c.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('refuses an expired certificate, a key that is not the certificate\'s, and files that are not PEM (code bad-certificate, naming the problem)', () => {
    expect(problemOf(() => loadTlsCredentials(certs.expiredCert, certs.expiredKey, Date.now()))).toBe('expired');
    expect(problemOf(() => loadTlsCredentials(certs.cert, certs.otherKey, Date.now()))).toBe('key-mismatch');
    expect(problemOf(() => loadTlsCredentials(certs.key, certs.key, Date.now()))).toBe('unreadable');
    expect(problemOf(() => loadTlsCredentials(path.join(certs.dir, 'missing.pem'), certs.key, Date.now()))).toBe('unreadable');
    expect(problemOf(() => loadTlsCredentials(certs.expiredCert, certs.expiredKey, Date.parse('2019-06-01')))).toBe('not-yet-valid');
  });

  it('`bouquet serve` refuses to start with an expired certificate or a mismatched key, saying which (exit 2, the code on stderr)', () => {
    for (const [cert, key, problem] of [[certs.expiredCert, certs.expiredKey, 'expired'], [certs.cert, certs.otherKey, 'key-mismatch']] as const) {
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'bouquet.js'), 'serve', '--port', '0', '--model', stories260K, '--tls-cert', cert, '--tls-key', key], {
        cwd: repoRoot, encoding: 'utf8', timeout: 60_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`[bad-certificate: ${problem}]`);
      expect(r.stdout).not.toContain('listening');
    }
  }, 120_000);

  it('a self-signed certificate made after the caller read its clock is accepted (openssl stamps it as it signs)', () => {
    const made = selfSignedTlsCredentials(['10.77.1.2'], path.join(certs.dir, 'late'), Date.now() - 5_000);
    expect(made.subjectAltName).toContain('IP Address:10.77.1.2');
  });

  it('a self-signed certificate for the host is made once and reused (same fingerprint), and the server answers over https with it', async () => {
    const dir = path.join(certs.dir, 'self');
    const first = selfSignedTlsCredentials(['10.77.1.1'], dir, Date.now());
    const again = selfSignedTlsCredentials(['10.77.1.1'], dir, Date.now());
    expect(again.fingerprint256).toBe(first.fingerprint256);
    expect(first.subjectAltName).toContain('IP Address:10.77.1.1');
    const opts = serveOptions(['--tls-self-signed', '--host', '10.77.1.1'], { XDG_CACHE_HOME: certs.dir }, Date.now());
    if (opts === 'help') throw new Error('help');
    expect(opts.tlsInfo?.selfSigned).toBe(true);

    const server = await createServer({ model: stories260K, port: 0, logger: 'silent', tls: { cert: first.cert, key: first.key } });
    try {
      expect(server.url.startsWith('https://127.0.0.1:')).toBe(true);
      const { status, body, fingerprint } = await new Promise<{ status: number; body: string; fingerprint: string }>((resolve, reject) => {
        const req = https.get(`${server.url}/api/health`, { ca: first.cert, servername: 'localhost' }, (res) => {
          const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
          let body = '';
          res.on('data', (b: Buffer) => (body += b.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
        });
        req.on('error', reject);
      });
      expect(status).toBe(200);
      expect(JSON.parse(body)).toMatchObject({ ok: true });
      expect(fingerprint).toBe(first.fingerprint256);
    } finally {
      await server.close();
    }
  }, 60_000);
  it('over https a page\'s own origin (https://host) may open the volunteer and dashboard sockets; the http origin of the same host may not', async () => {
    const creds = selfSignedTlsCredentials(['127.0.0.1'], path.join(certs.dir, 'ws'), Date.now());
    const server = await createServer({ model: stories260K, port: 0, logger: 'silent', tls: { cert: creds.cert, key: creds.key } });
    /** The upgrade's HTTP status (101 when it opened), for a socket opened with `origin`. */
    const upgradeStatus = (socketPath: string, origin: string): Promise<number> => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace('https:', 'wss:')}${socketPath}`, { ca: creds.cert, origin });
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('error', (e) => reject(e));
    });
    try {
      const own = server.url;
      expect(await upgradeStatus(apiPaths.volunteerSocket, own)).toBe(101);
      expect(await upgradeStatus(apiPaths.dashboardSocket, own)).toBe(101);
      expect(await upgradeStatus(apiPaths.volunteerSocket, own.replace('https:', 'http:'))).toBe(403);
    } finally {
      await server.close();
    }
  }, 60_000);
});
