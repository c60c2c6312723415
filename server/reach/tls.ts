// HTTPS for `bouquet serve`: loads and checks a certificate and key, or makes a self-signed one for a LAN trial.
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { BouquetError, registerErrorKind } from '../../core/errors/index.ts';

/** What is wrong with a certificate (the `problem` of a 'bad-certificate' error). */
export type CertificateProblem = 'unreadable' | 'expired' | 'not-yet-valid' | 'key-mismatch' | 'openssl-failed';

/** A 'bad-certificate' error: `data.problem` names what is wrong, the message says it for a person. */
export class CertificateError extends BouquetError<'bad-certificate'> {
  constructor(problem: CertificateProblem, message: string, file?: string) {
    super('bad-certificate', message, { problem, ...(file !== undefined ? { file } : {}) });
  }
}
registerErrorKind('CertificateError', CertificateError);

/** A certificate and key that passed the checks, PEM. */
export interface TlsCredentials {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, colon-separated hex (what browsers show). */
  fingerprint256: string;
  /** Unix epoch ms after which the certificate is no longer valid. */
  validToMs: number;
  /** Subject alternative names, as X509Certificate lists them. */
  subjectAltName: string | undefined;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CertificateError('unreadable', `cannot read ${file}: ${(e as Error).message}`, file);
  }
}

/**
 * Checks PEM `cert` and `key`: both parse, the key is the certificate's, and `nowMs` lies inside its
 * validity. Throws CertificateError ('bad-certificate') naming the problem.
 */
export function checkTlsCredentials(cert: string, key: string, nowMs: number, certFile = 'the certificate', keyFile = 'the key'): TlsCredentials {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new CertificateError('unreadable', `${certFile} is not a PEM certificate: ${(e as Error).message}`, certFile);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new CertificateError('unreadable', `${keyFile} is not a PEM private key: ${(e as Error).message}`, keyFile);
  }
  const validFromMs = Date.parse(x509.validFrom);
  const validToMs = Date.parse(x509.validTo);
  if (nowMs > validToMs) throw new CertificateError('expired', `${certFile} expired on ${new Date(validToMs).toISOString()}`, certFile);
  if (nowMs < validFromMs) throw new CertificateError('not-yet-valid', `${certFile} is not valid before ${new Date(validFromMs).toISOString()}`, certFile);
  if (!x509.checkPrivateKey(privateKey)) throw new CertificateError('key-mismatch', `${keyFile} is not the private key of ${certFile}`, keyFile);
  return { cert, key, fingerprint256: x509.fingerprint256, validToMs, subjectAltName: x509.subjectAltName };
}

/** Reads and checks `--tls-cert` and `--tls-key`. */
export function loadTlsCredentials(certFile: string, keyFile: string, nowMs: number): TlsCredentials {
  return checkTlsCredentials(read(certFile), read(keyFile), nowMs, certFile, keyFile);
}

/**
 * A self-signed certificate for `hosts` (IP addresses and names; localhost is always added), made with
 * the `openssl` CLI into `dir` and reused while it is valid for another day and names the same hosts,
 * so a browser that accepted it once keeps accepting it across restarts.
 */
export function selfSignedTlsCredentials(hosts: string[], dir: string, nowMs: number, days = 30): TlsCredentials {
  const names = [...new Set([...hosts.filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::'), 'localhost', '127.0.0.1'])].sort();
  const tag = createHash('sha256').update(names.join(',')).digest('hex').slice(0, 12);
  const certFile = path.join(dir, `self-signed-${tag}.crt`);
  const keyFile = path.join(dir, `self-signed-${tag}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      const c = loadTlsCredentials(certFile, keyFile, nowMs + 24 * 3600 * 1000);
      return { ...c, validToMs: c.validToMs };
    } catch {
      // expired soon or damaged: make a new one below
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const san = names.map((n) => (isIP(n) !== 0 ? `IP:${n}` : `DNS:${n}`)).join(',');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days),
    '-subj', '/CN=bouquet self-signed', '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile,
  ], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined || r.status !== 0) {
    throw new CertificateError('openssl-failed', `openssl could not make a self-signed certificate: ${r.error?.message ?? r.stderr.trim().slice(0, 300)}`);
  }
  // openssl stamps notBefore with the real clock as it signs, which may be a second past `nowMs` (read before it ran).
  return loadTlsCredentials(certFile, keyFile, Math.max(nowMs, Date.now()));
}
