// Test support: certificates made with the openssl CLI in a temporary folder (valid, expired, and a key of another).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** PEM files of the certificates the TLS tests use. */
export interface TestCerts {
  dir: string;
  /** Valid now for 127.0.0.1, with its key. */
  cert: string;
  key: string;
  /** Valid 2020-01-01 to 2020-01-02 only, with its key. */
  expiredCert: string;
  expiredKey: string;
  /** A key that belongs to no certificate above. */
  otherKey: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** Makes the certificates (needs the `openssl` CLI, which Debian installs with the system). */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(path.join(tmpdir(), 'bouquet-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=bouquet-test', '-addext', 'subjectAltName=IP:127.0.0.1,IP:10.77.1.1,DNS:localhost', '-keyout', 'key.pem', '-out', 'cert.pem'], dir);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'other.pem'], dir);
  // `openssl req -x509` refuses a past end date; `openssl ca -selfsign` takes explicit dates.
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial'), '01\n');
  writeFileSync(path.join(dir, 'ca.cnf'), '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nserial = serial\nnew_certs_dir = .\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n');
  openssl(['req', '-new', ...ec, '-subj', '/CN=expired', '-keyout', 'expired-key.pem', '-out', 'expired.csr'], dir);
  openssl(['ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'expired-key.pem', '-in', 'expired.csr', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-out', 'expired.pem'], dir);
  const p = (f: string): string => path.join(dir, f);
  return {
    dir, cert: p('cert.pem'), key: p('key.pem'), expiredCert: p('expired.pem'), expiredKey: p('expired-key.pem'), otherKey: p('other.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
