// The OpenAI-compatible API when `bouquet serve` runs HTTPS with `--tls-self-signed`, on loopback with real processes: a `bouquet volunteer` and the
// official `openai` SDK trust exactly the server's certificate (NODE_EXTRA_CA_CERTS, as a user does), the answers equal `bouquet generate`'s text,
// and a caller that does not trust the certificate is refused.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReference, repoRoot, startBouquet, stopBouquet, stories260K, until, type BouquetProcess } from './swarm-support.ts';

const apiKey = 'test-key-0123456789abcdef';
const prompt = 'Once upon a time';
const maxTokens = 30;

// What a user's script does: the SDK pointed at the https origin, plain and streamed, greedy.
const sdkScript = `
import OpenAI from 'openai';
const openai = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const ask = { model: 'stories260K', prompt: ${JSON.stringify(prompt)}, max_tokens: ${maxTokens}, temperature: 0 };
const plain = await openai.completions.create(ask);
let streamed = '';
for await (const c of await openai.completions.create({ ...ask, stream: true })) streamed += c.choices[0]?.text ?? '';
console.log(JSON.stringify({ plain: plain.choices[0]?.text, streamed }));
`;

/** Runs the SDK script in its own Node process with `env`; resolves with its JSON line or its exit code and output. */
function runSdk(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', sdkScript], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => child.once('exit', (code) => { clearTimeout(timer); resolve({ code, out }); }));
}

describe('the OpenAI-compatible API over HTTPS (bouquet serve --tls-self-signed + a bouquet volunteer, the openai SDK)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-openai-https-'));
  let serve: BouquetProcess;
  let volunteer: BouquetProcess | undefined;
  let url = '';
  let certFile = '';

  beforeAll(async () => {
    // The certificate is made under $XDG_CACHE_HOME/bouquet/tls: this test's own folder.
    serve = startBouquet([
      'serve', '--port', '0', '--model', stories260K, '--max-session-tokens', '128', '--state-dir', path.join(dir, 'server'),
      '--tls-self-signed', '--api-key', apiKey, '--api-rate', '20', '--log-level', 'warn',
    ], { XDG_CACHE_HOME: path.join(dir, 'cache') });
    await until('bouquet serve to listen', () => Promise.resolve(/listening on (https:\/\/127\.0\.0\.1:\d+)/.test(serve.log())), 30_000);
    url = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(serve.log())?.[1] ?? '';
    const tlsDir = path.join(dir, 'cache', 'bouquet', 'tls');
    certFile = path.join(tlsDir, readdirSync(tlsDir).find((f) => f.endsWith('.crt')) ?? '');
    // The volunteer trusts this certificate and nothing else new, as its operator would.
    volunteer = startBouquet(['volunteer', '--server', url, '--memory-mb', '2', '--state-dir', path.join(dir, 'v'), '--drain-ms', '0'], { NODE_EXTRA_CA_CERTS: certFile });
    await until('the volunteer to serve every block', () => Promise.resolve(/peer (\S+) serving/.test(volunteer?.log() ?? '')), 90_000);
  }, 150_000);

  afterAll(async () => {
    if (volunteer !== undefined) await stopBouquet(volunteer);
    if (serve !== undefined) await stopBouquet(serve);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('completions (plain and streamed) through the swarm equal bouquet generate\'s text; without the certificate the SDK is refused', async () => {
    const reference = generateReference(prompt, maxTokens);
    const trusted = await runSdk({ BASE_URL: `${url}/v1`, API_KEY: apiKey, NODE_EXTRA_CA_CERTS: certFile });
    expect(trusted.code, trusted.out).toBe(0);
    const answer = JSON.parse(trusted.out.trim().split('\n').at(-1) ?? '') as { plain: string; streamed: string };
    expect(answer).toEqual({ plain: reference.text, streamed: reference.text });
    // Verification is on: a caller that does not trust the self-signed certificate never reaches the API.
    const untrusted = await runSdk({ BASE_URL: `${url}/v1`, API_KEY: apiKey, NODE_EXTRA_CA_CERTS: '' });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.out).toMatch(/APIConnectionError|self.signed|certificate/i);
  }, 120_000);
});
