// `bouquet serve`'s OpenAI API flags: keys from flags, BOUQUET_API_KEYS and the state dir's file; the rate; the CORS origins; bad values refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveOptions } from '../../../tools/cli/serve.ts';
import { ArgumentError } from '../../../tools/cli/sim-common.ts';

function openaiOf(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const o = serveOptions(['--state-dir', 'none', ...argv], env);
  if (o === 'help') throw new Error('help');
  return o.openai;
}

describe('bouquet serve: the OpenAI-compatible API', () => {
  it('is open without keys, with the default rate and no CORS origin', () => {
    expect(openaiOf([])).toMatchObject({ apiKeys: [], rateLimit: { perSecond: 2, burst: 10 }, corsOrigins: [] });
  });

  it('takes keys from --api-key (repeated) or BOUQUET_API_KEYS, and from <state dir>/api-keys', () => {
    const a = 'key-a-0123456789abcdef';
    const b = 'key-b-0123456789abcdef';
    expect(openaiOf(['--api-key', a, '--api-key', b])?.apiKeys).toEqual([a, b]);
    expect(openaiOf([], { BOUQUET_API_KEYS: `${a}, ${b}` })?.apiKeys).toEqual([a, b]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-serve-keys-'));
    try {
      writeFileSync(path.join(dir, 'api-keys'), `${b}\n`, { mode: 0o600 });
      const o = serveOptions(['--state-dir', dir, '--api-key', a], {});
      expect(o !== 'help' && o.openai?.apiKeys).toEqual([a, b]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes --api-rate and --cors-origin, and refuses bad values in one line', () => {
    expect(openaiOf(['--api-rate', '0.5', '--cors-origin', 'https://a.example, https://b.example'])).toMatchObject({
      rateLimit: { perSecond: 0.5, burst: 3 }, corsOrigins: ['https://a.example', 'https://b.example'],
    });
    expect(() => openaiOf(['--api-key', 'short'])).toThrow(ArgumentError);
    expect(() => openaiOf(['--api-rate', '0'])).toThrow(ArgumentError);
    expect(() => openaiOf(['--api-rate', 'fast'])).toThrow(ArgumentError);
  });
});
