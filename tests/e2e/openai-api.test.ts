// The OpenAI-compatible API of `bouquet serve`, end to end on loopback with real processes (serve + three `bouquet volunteer`s, no browser) and the official
// `openai` SDK as the client: completions (plain, streamed) and chat completions at temperature 0 equal `bouquet generate`'s text; a volunteer killed
// mid-answer still gives that text; a caller that goes away releases its route; bad input gets OpenAI-shaped errors with the right status.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeRouteVictim, repoRoot, startBouquet, stopBouquet, stories260K, until, type BouquetProcess } from './swarm-support.ts';

const hfModel = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K-hf');
const apiKey = 'test-key-0123456789abcdef';
const goodOrigin = 'https://app.example';
// A chat template in the style of Zephyr's, added to a copy of stories260K-hf (which has none): the model is not an instruct
// model, so its answers mean nothing, but the template's path (rendering, special tokens, generation prompt) is the real one.
const chatTemplate = "{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";
const prompt = 'Once upon a time';
const maxTokens = 40;

/** `bouquet generate --json` greedy on `model` (with `--chat`: the prompt as a user message in the chat template). */
async function generate(model: string, text: string, chat: boolean): Promise<{ text: string; ids: number[] }> {
  const p = startBouquet(['generate', '--model', model, '--prompt', text, '--max-tokens', String(maxTokens), '--temperature', '0', '--threads', '1', '--json', ...(chat ? ['--chat'] : [])]);
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
  if (code !== 0) throw new Error(`bouquet generate failed: ${p.log()}`);
  const line = p.log().trim().split('\n').findLast((l) => l.startsWith('{')) ?? '';
  return JSON.parse(line) as { text: string; ids: number[] };
}

interface SwarmLite {
  volunteers: { peerId: string; state: string; span: unknown; assignedSpan: unknown }[];
  placement: { uncoveredBlocks: number[] };
  model: { numBlocks: number };
  recentRoutes: { clientId: string; outcome: string; maxNewTokens: number; measured?: unknown; chain: { peerId: string; span: { start: number; end: number } }[] }[];
}

describe('the OpenAI-compatible API (bouquet serve + three bouquet volunteer processes, the openai SDK)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-openai-'));
  const chatModel = path.join(dir, 'stories-chat');
  let serve: BouquetProcess;
  let url = '';
  const volunteers: BouquetProcess[] = [];
  let openai: OpenAI;
  let completionRef: { text: string; ids: number[] };
  let chatRef: { text: string; ids: number[] };
  const swarm = async (): Promise<SwarmLite> => (await (await fetch(`${url}/api/swarm?modelId=stories-chat`)).json()) as SwarmLite;
  const peerIdOf = (p: BouquetProcess): string | undefined => /peer (\S+) serving/.exec(p.log())?.[1];

  beforeAll(async () => {
    mkdirSync(chatModel);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json']) symlinkSync(path.join(hfModel, f), path.join(chatModel, f));
    const config = JSON.parse(readFileSync(path.join(hfModel, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(chatModel, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: chatTemplate }));
    // Two models: the chat one the volunteers serve, and llama2.c stories260K (no chat template) for the 400.
    serve = startBouquet([
      'serve', '--port', '0', '--model', chatModel, '--model', stories260K, '--max-session-tokens', '128', '--state-dir', path.join(dir, 'server'),
      '--api-key', apiKey, '--cors-origin', goodOrigin, '--api-rate', '20', '--log-level', 'warn',
    ]);
    await until('bouquet serve to listen', () => Promise.resolve(/listening on (http:\/\/127\.0\.0\.1:\d+)/.test(serve.log())), 30_000);
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.log())?.[1] ?? '';
    for (let i = 0; i < 3; i++) {
      volunteers.push(startBouquet(['volunteer', '--server', url, '--model', 'stories-chat', '--memory-mb', '0.65', '--state-dir', path.join(dir, `v${i}`), '--drain-ms', '0']));
    }
    // The references while the volunteers start.
    [completionRef, chatRef] = await Promise.all([generate(chatModel, prompt, false), generate(chatModel, prompt, true)]);
    // The template's prompt leads elsewhere than the plain one: a chat that ignored it would not match.
    expect(chatRef.ids.length).toBeGreaterThan(10);
    expect(chatRef.text).not.toBe(completionRef.text);
    openai = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
    await until('the three volunteers to cover every block', async () => {
      const s = await swarm();
      return s.volunteers.length === 3 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan)) && s.placement.uncoveredBlocks.length === 0;
    }, 90_000);
  }, 150_000);

  afterAll(async () => {
    await Promise.all(volunteers.map((v) => stopBouquet(v)));
    if (serve !== undefined) await stopBouquet(serve);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('lists the served models', async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['stories-chat', 'stories260K']);
  });

  it('completions.create (plain) gives bouquet generate\'s text, with usage, through a route the dashboard shows', async () => {
    const before = (await swarm()).recentRoutes.length;
    const r = await openai.completions.create({ model: 'stories-chat', prompt, max_tokens: maxTokens, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]?.text).toBe(completionRef.text);
    expect(r.choices[0]?.finish_reason).toBe(completionRef.ids.length < maxTokens ? 'stop' : 'length');
    const promptTokens = r.usage?.prompt_tokens ?? 0;
    expect(promptTokens).toBeGreaterThan(1);
    expect(r.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: completionRef.ids.length, total_tokens: promptTokens + completionRef.ids.length });
    const s = await swarm();
    expect(s.recentRoutes.length).toBeGreaterThan(before);
    expect(s.recentRoutes.every((x) => x.outcome !== 'active')).toBe(true);
  }, 60_000);

  it('completions.create (streamed) gives the same text in chunks, then usage, then [DONE]', async () => {
    const stream = await openai.completions.create({ model: 'stories-chat', prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let chunks = 0;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      usage = c.usage ?? usage;
    }
    expect(text).toBe(completionRef.text);
    expect(chunks).toBeGreaterThan(10);
    expect(finish).toBeDefined();
    expect(usage?.completion_tokens).toBe(completionRef.ids.length);
  }, 60_000);

  it('chat.completions.create renders the chat template and gives bouquet generate --chat\'s text (plain and streamed)', async () => {
    const messages = [{ role: 'user' as const, content: prompt }];
    const r = await openai.chat.completions.create({ model: 'stories-chat', messages, max_tokens: maxTokens, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]?.message).toMatchObject({ role: 'assistant', content: chatRef.text });
    expect(r.usage?.completion_tokens).toBe(chatRef.ids.length);
    const stream = await openai.chat.completions.create({ model: 'stories-chat', messages, max_tokens: maxTokens, temperature: 0, stream: true });
    let text = '';
    let role: string | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      role ??= c.choices[0]?.delta.role;
    }
    expect(role).toBe('assistant');
    expect(text).toBe(chatRef.text);
  }, 60_000);

  it('a stop sequence ends the answer before it', async () => {
    const cut = completionRef.text.indexOf(' ', 10);
    const stopAt = completionRef.text.slice(cut, cut + 3);
    const r = await openai.completions.create({ model: 'stories-chat', prompt, max_tokens: maxTokens, temperature: 0, stop: [stopAt] });
    expect(r.choices[0]?.text).toBe(completionRef.text.slice(0, completionRef.text.indexOf(stopAt)));
    expect(r.choices[0]?.finish_reason).toBe('stop');
  }, 60_000);

  it('a caller that goes away mid-stream cancels the generation and its route is released', async () => {
    const abort = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', signal: abort.signal,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories-chat', prompt, max_tokens: 120, temperature: 0, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(new TextDecoder().decode(first?.value)).toMatch(/^data: \{/);
    abort.abort();
    // Released without measured times: the session ended by the abort, not by a finished answer (which reports them).
    await until('the cancelled answer\'s route to be released', async () => {
      // The answer's own route covers the whole model; a verified-results check is a route of its own, for one hop's span.
      const s = await swarm();
      const routes = s.recentRoutes.filter((x) => x.maxNewTokens === 120 && x.chain[0]?.span.start === 0 && x.chain.at(-1)?.span.end === s.model.numBlocks);
      return routes.length === 1 && routes[0]?.outcome === 'released' && routes[0].measured === undefined;
    }, 15_000);
  }, 60_000);

  it('gives the same text when a volunteer process on the route is killed mid-answer', async () => {
    const stream = await openai.completions.create({ model: 'stories-chat', prompt, max_tokens: maxTokens, temperature: 0, stream: true });
    let text = '';
    let chunks = 0;
    let killed: string | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (++chunks === 8) {
        const s = await swarm();
        killed = activeRouteVictim(s, { numBlocks: s.model.numBlocks });
        volunteers.find((v) => peerIdOf(v) === killed)?.child.kill('SIGKILL');
      }
    }
    expect(killed).toBeDefined();
    expect(text).toBe(completionRef.text);
  }, 90_000);

  it('answers bad input with OpenAI-shaped errors and the right status', async () => {
    const expectApiError = async (p: Promise<unknown>, status: number, code: string, param?: string): Promise<void> => {
      const e = await p.then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.APIError);
      const err = e as InstanceType<typeof OpenAI.APIError>;
      expect({ status: err.status, code: err.code }).toEqual({ status, code });
      if (param !== undefined) expect(err.param).toBe(param);
    };
    await expectApiError(openai.completions.create({ model: 'no-such-model', prompt }), 404, 'model-not-found', 'model');
    await expectApiError(openai.completions.create({ model: 'stories-chat', prompt, max_tokens: 500 }), 400, 'bad-request', 'max_tokens');
    await expectApiError(openai.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'Hi' }] }), 400, 'no-chat-template');
    await expectApiError(new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong-key-0123456789abcdef', maxRetries: 0 }).models.list(), 401, 'unauthorized');
    const post = (body: string, headers: Record<string, string>) => fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const missing = await post(JSON.stringify({ model: 'stories-chat', prompt }), {});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: 'unauthorized', type: 'authentication_error' } });
    const malformed = await post('{"model": "stories-chat", "prompt": ', { authorization: `Bearer ${apiKey}` });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: { message: expect.any(String) as string, type: 'invalid_request_error', param: '(body)', code: 'bad-request' } });
    const cross = await post(JSON.stringify({ model: 'stories-chat', prompt }), { authorization: `Bearer ${apiKey}`, origin: 'https://elsewhere.example' });
    expect(cross.status).toBe(403);
    expect(await cross.json()).toMatchObject({ error: { code: 'forbidden-origin' } });
    const preflight = await fetch(`${url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: goodOrigin, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(goodOrigin);
  }, 30_000);
});
