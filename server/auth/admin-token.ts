// The admin token: given (--admin-token), or generated at first start and kept owner-only (0600) in the state dir.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BouquetError } from '../../core/errors/index.ts';

/** File name of the admin token inside the state dir. */
export const adminTokenFile = 'admin-token';

/** Shortest admin token accepted, characters (a given one too: a short token is guessable). */
export const minAdminTokenChars = 16;

/** The state dir by default: `$BOUQUET_STATE_DIR` (`none`: keep nothing), else `$XDG_STATE_HOME/bouquet`, else `~/.local/state/bouquet`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.BOUQUET_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv === 'none' ? fromEnv : path.resolve(fromEnv);
  return path.join(env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'bouquet');
}

/** A fresh token: 32 random bytes, base64url (43 characters). */
export function newAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Throws `bad-argument` for a token too short or with characters a bearer header cannot carry. */
export function checkAdminToken(token: string): string {
  if (token.length < minAdminTokenChars || !/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
    throw new BouquetError('bad-argument', `an admin token needs at least ${minAdminTokenChars} characters of [A-Za-z0-9._~+/=-]`, { field: 'adminToken' });
  }
  return token;
}

/** Where the token came from (the log says so; it never prints the token). */
export type AdminTokenSource = 'given' | 'generated' | 'read' | 'in-memory';

/**
 * The admin token of `stateDir`: read from `<stateDir>/admin-token`, or generated and written
 * there (dir 0700, file 0600) at first start. A file readable by others is narrowed to 0600 (the
 * token may have leaked: the log says so). Throws `bad-argument` for an unreadable or bad file.
 */
export function loadOrCreateAdminToken(stateDir: string): { token: string; file: string; source: 'generated' | 'read' } {
  const file = path.join(stateDir, adminTokenFile);
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    checkAdminToken(token);
    return { token, file, source: 'read' };
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const token = newAdminToken();
  // 'wx': never overwrite a token another process wrote meanwhile.
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { token, file, source: 'generated' };
}
