// The OpenAI-compatible API's keys: given as flags, or read from `<state dir>/api-keys` (one per line, owner-only).
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BouquetError } from '../../core/errors/index.ts';
import { minAdminTokenChars } from './admin-token.ts';

/** The keys file's name inside the state dir. */
export const apiKeysFile = 'api-keys';

/** Most keys a server holds (each request compares against every one). */
export const maxApiKeys = 1000;

/** Throws `bad-argument` for a key too short or with characters a bearer header cannot carry. */
export function checkApiKey(key: string): string {
  if (key.length < minAdminTokenChars || key.length > 512 || !/^[A-Za-z0-9._~+/=-]+$/.test(key)) {
    throw new BouquetError('bad-argument', `an API key needs ${minAdminTokenChars} to 512 characters of [A-Za-z0-9._~+/=-]`, { field: 'apiKey' });
  }
  return key;
}

/**
 * The API keys: `given` (flags) and those of `<stateDir>/api-keys` when it exists (one key per
 * line; blank lines and `#` comments skipped). A file readable by others is narrowed to 0600, as
 * the admin token's is. No keys: the API is open to anyone. Throws `bad-argument` for a bad key.
 */
export function loadApiKeys(given: readonly string[], stateDir: string | undefined): { keys: string[]; file?: string } {
  const keys = given.map(checkApiKey);
  let file: string | undefined;
  if (stateDir !== undefined && existsSync(path.join(stateDir, apiKeysFile))) {
    file = path.join(stateDir, apiKeysFile);
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const key = line.trim();
      if (key === '' || key.startsWith('#')) continue;
      keys.push(checkApiKey(key));
    }
  }
  if (keys.length > maxApiKeys) throw new BouquetError('bad-argument', `at most ${maxApiKeys} API keys (got ${keys.length})`, { field: 'apiKey' });
  return { keys: [...new Set(keys)], ...(file !== undefined ? { file } : {}) };
}
