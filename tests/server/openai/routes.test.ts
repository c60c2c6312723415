// The /v1 routes in a real server on loopback with a scripted stand-in for the swarm client (the real one: tests/e2e/openai-api.test.ts):
// an open API without keys, keys from the state dir's file, per-key rate and concurrency limits, and the errors around them.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BouquetError } from '../../../core/errors/index.ts';
import { createServer, loadApiKeys, type BouquetServer, type SwarmTextClient } from '../../../server/index.ts';
import { HfTokenizer } from '../../../worker/index.ts';
import { rawRequest } from '../helpers.ts';

const stories260K = path.resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'models', 'stories260K');
const hfDir = path.resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'models', 'stories260K-hf');
const tokenizer = new HfTokenizer(JSON.parse(readFileSync(path.join(hfDir, 'tokenizer.json'), 'utf8')), { bos_token: '<s>', eos_token: '</s>' }, {});

/** Stands in for the swarm client: answers 'Once upon a time' a word a token, after `holdMs`, honouring the abort signal. */
function scripted(holdMs = 0): { client: SwarmTextClient; started: () => number } {
  let started = 0;
  const client: SwarmTextClient = {
    tokenizer, maxSeqLen: 128,
    async generate(r) {
      started++;
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      if (r.signal?.aborted === true) throw new BouquetError('aborted', 'generation aborted');
      const words = [' Once', ' upon', ' a', ' time'].slice(0, r.maxNewTokens);
      words.forEach((w, i) => { r.onToken?.({ id: 10 + i, index: i, latencyMs: 1, text: w }); r.onText?.(w, i); });
      return { ids: words.map((_, i) => 10 + i), text: words.join(''), stopReason: 'max-tokens', promptIds: [] };
    },
    close: () => Promise.resolve(),
  };
  return { client, started: () => started };
}

let server: BouquetServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('the /v1 routes', () => {
  it('are open to anyone without keys (any bearer ignored), and answer in OpenAI\'s shape', async () => {
    const s = scripted();
    server = await createServer({ port: 0, model: stories260K, logger: 'silent', openai: { client: () => Promise.resolve(s.client) } });
    const r = await post(server.url, { model: 'stories260K', prompt: 'x', max_tokens: 3 }, { authorization: 'Bearer sk-anything' });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ object: 'text_completion', model: 'stories260K', choices: [{ index: 0, text: ' Once upon a', finish_reason: 'length' }], usage: { completion_tokens: 3 } });
    expect(await (await fetch(`${server.url}/v1/models/stories260K`)).json()).toMatchObject({ id: 'stories260K', object: 'model' });
    expect((await fetch(`${server.url}/v1/models/nope`)).status).toBe(404);
    const none = await fetch(`${server.url}/v1/embeddings`, { method: 'POST' });
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({ error: { code: 'not-found' } });
    const form = await post(server.url, 'prompt=x', { 'content-type': 'text/plain' });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: { code: 'unsupported-media-type' } });
  });

  it('refuse bad input before the swarm client is touched', async () => {
    const s = scripted();
    server = await createServer({ port: 0, model: stories260K, logger: 'silent', modelSizing: { maxSessionTokens: 64 }, openai: { client: () => Promise.resolve(s.client) } });
    const cases: [unknown, number, string, string | null][] = [
      [{ model: 'other', prompt: 'x' }, 404, 'model-not-found', 'model'],
      [{ model: 'stories260K', prompt: 'x', max_tokens: 65 }, 400, 'bad-request', 'max_tokens'],
      [{ model: 'stories260K', prompt: 'x', n: 2 }, 400, 'bad-request', 'n'],
      ['[1, 2', 400, 'bad-request', '(body)'],
    ];
    for (const [body, status, code, param] of cases) {
      const r = await post(server.url, body);
      expect(r.status).toBe(status);
      expect(await r.json()).toMatchObject({ error: { code, param } });
    }
    expect(s.started()).toBe(0);
  });

  it('take keys from the state dir (narrowed to 0600) and hold each key to its rate and concurrency', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-keys-'));
    try {
      writeFileSync(path.join(dir, 'api-keys'), '# keys\nkey-one-0123456789abcdef\n\nkey-two-0123456789abcdef\n', { mode: 0o644 });
      const { keys } = loadApiKeys([], dir);
      expect(keys).toEqual(['key-one-0123456789abcdef', 'key-two-0123456789abcdef']);
      expect(statSync(path.join(dir, 'api-keys')).mode & 0o777).toBe(0o600);
      expect(() => loadApiKeys(['short'], undefined)).toThrow(expect.objectContaining({ code: 'bad-argument' }) as Error);
      const s = scripted(300);
      server = await createServer({
        port: 0, model: stories260K, logger: 'silent',
        openai: { client: () => Promise.resolve(s.client), apiKeys: keys, rateLimit: { perSecond: 0.1, burst: 3 }, maxConcurrentPerKey: 1 },
      });
      const url = server.url;
      const one = { authorization: 'Bearer key-one-0123456789abcdef' };
      const body = { model: 'stories260K', prompt: 'x', max_tokens: 2 };
      expect((await post(url, body)).status).toBe(401);
      const [a, b] = await Promise.all([post(url, body, one), post(url, body, one)]);
      expect([a.status, b.status].sort()).toEqual([200, 429]);
      const busy = a.status === 429 ? a : b;
      expect(await busy.json()).toMatchObject({ error: { code: 'over-quota', type: 'rate_limit_error' } });
      expect(busy.headers.get('retry-after')).toBe('1');
      expect((await post(url, body, one)).status).toBe(200);
      const limited = await post(url, body, one);
      expect(limited.status).toBe(429);
      expect(await limited.json()).toMatchObject({ error: { code: 'rate-limited' } });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(1);
      // Another key has its own budget.
      expect((await post(url, body, { authorization: 'Bearer key-two-0123456789abcdef' })).status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ask the swarm client for each caller\'s own identity: per key, and per address (as a hash) without keys', async () => {
    const seen: (string | undefined)[] = [];
    const s = scripted();
    const client: SwarmTextClient = { ...s.client, generate: (r) => { seen.push(r.onBehalfOf); return s.client.generate(r); } };
    const body = JSON.stringify({ model: 'stories260K', prompt: 'x', max_tokens: 2 });
    server = await createServer({ port: 0, model: stories260K, logger: 'silent', openai: { client: () => Promise.resolve(client), apiKeys: ['key-one-0123456789abcdef', 'key-two-0123456789abcdef'] } });
    for (const key of ['key-one-0123456789abcdef', 'key-two-0123456789abcdef', 'key-one-0123456789abcdef']) {
      expect((await post(server.url, body, { authorization: `Bearer ${key}` })).status).toBe(200);
    }
    expect(seen[0]).toMatch(/^key-[0-9a-f]{12}$/);
    expect(seen[1]).toMatch(/^key-[0-9a-f]{12}$/);
    expect(seen[1]).not.toBe(seen[0]);
    expect(seen[2]).toBe(seen[0]);
    await server.close();
    seen.length = 0;
    server = await createServer({ port: 0, model: stories260K, logger: 'silent', openai: { client: () => Promise.resolve(client) } });
    // Two loopback addresses of their own: two keyless callers.
    for (const localAddress of ['127.0.0.2', '127.0.0.3', '127.0.0.2']) {
      expect((await rawRequest(`${server.url}/v1/completions`, { headers: { 'content-type': 'application/json' }, body, localAddress })).status).toBe(200);
    }
    expect(seen[0]).toMatch(/^addr-[0-9a-f]{12}$/);
    expect(seen[1]).toMatch(/^addr-[0-9a-f]{12}$/);
    expect(seen[1]).not.toBe(seen[0]);
    expect(seen[2]).toBe(seen[0]);
    expect(seen.join(' ')).not.toContain('127');
  });

  it('cancel the generation when the caller goes away before a plain answer', async () => {
    const s = scripted(500);
    let aborted = false;
    const client: SwarmTextClient = { ...s.client, generate: (r) => { r.signal?.addEventListener('abort', () => { aborted = true; }); return s.client.generate(r); } };
    server = await createServer({ port: 0, model: stories260K, logger: 'silent', openai: { client: () => Promise.resolve(client) } });
    const gone = new AbortController();
    const pending = fetch(`${server.url}/v1/completions`, { method: 'POST', signal: gone.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'stories260K', prompt: 'x' }) });
    await new Promise((resolve) => setTimeout(resolve, 150));
    gone.abort();
    await expect(pending).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(aborted).toBe(true);
  });
});
