// The OpenAI-compatible API under /v1: models, completions and chat completions through the swarm, with API keys, per-key limits and CORS.
import { createHash, randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { CoordinatorApiError } from '../../core/api/index.ts';
import { isBouquetError } from '../../core/errors/index.ts';
import { addressKey, apiKeyScheme, Authorizer, checkJsonBody, checkOrigin, RateLimiter, type RateLimit } from '../auth/index.ts';
import type { SwarmModels } from '../swarm-models.ts';
import { openAiError } from './errors.ts';
import { generateAnswer, promptIdsOf, responseId, type AnswerResult } from './generate.ts';
import { SseWriter } from './sse.ts';
import { SwarmClientPool, type SwarmClientFactory } from './swarm-client.ts';
import { openAiBounds, parseChatCompletionRequest, parseCompletionRequest, type ChatCompletionRequest, type CompletionRequest } from './validate.ts';

/** Options of the OpenAI-compatible API (`createServer({openai})`, `bouquet serve --api-key …`). */
export interface OpenAiOptions {
  /** Starts the server's swarm client of a model (`bouquet serve`: tools/node-peer's `startNodeClient`). */
  client: SwarmClientFactory;
  /** Bearer keys; none: the API is open to anyone who reaches the server. */
  apiKeys?: readonly string[];
  /** Browser origins allowed to call the API (CORS); others are refused with 403 `forbidden-origin`. */
  corsOrigins?: readonly string[];
  /** Requests per key (per address without keys). Default 2/s, burst 10. */
  rateLimit?: RateLimit;
  /** Generations one key (or address) may run at once. Default 4. */
  maxConcurrentPerKey?: number;
  /**
   * Generations the server runs at once. Default 8: every answer is one client id's route at the
   * coordinator, whose fair use holds one client to 16 leases (two per answer while failing over).
   */
  maxConcurrent?: number;
}

/** What the API reads of its server. */
export interface OpenAiContext {
  models: SwarmModels;
  /** The server's own origin, for its swarm clients (known once it listens). */
  origin: () => string;
  logger: Logger;
}

/** The mounted API: its router (mount at `/v1`) and its shutdown. */
export interface OpenAiApi {
  router: Router;
  close(): Promise<void>;
}

function sendError(res: Response, e: unknown): void {
  const { status, body } = openAiError(e);
  if (!res.headersSent) {
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="bouquet"');
    const retryAfterMs = isBouquetError(e) ? e.data?.retryAfterMs : undefined;
    if (typeof retryAfterMs === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    res.status(status).json(body);
  }
}

const corsAllowedHeaders = 'Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, X-Stainless-Arch, X-Stainless-Lang, X-Stainless-OS, X-Stainless-Package-Version, X-Stainless-Retry-Count, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Timeout';

/** Builds the API over the server's models. */
export function openAiRouter(options: OpenAiOptions, ctx: OpenAiContext): OpenAiApi {
  const keys = options.apiKeys ?? [];
  const authorizer = keys.length > 0 ? new Authorizer([apiKeyScheme(keys)]) : new Authorizer([], { openToAnyone: ['generate'] });
  const corsOrigins = options.corsOrigins ?? [];
  const limiter = new RateLimiter(options.rateLimit ?? { perSecond: 2, burst: 10 });
  const maxPerKey = options.maxConcurrentPerKey ?? 4;
  const maxAll = options.maxConcurrent ?? 8;
  const running = new Map<string, number>();
  let runningAll = 0;
  const pool = new SwarmClientPool(options.client, ctx.origin);
  const startedAtS = Math.floor(Date.now() / 1000);
  const addressSalt = randomBytes(16);
  const router = express.Router();

  // CORS: a browser page of an allowed origin may call; any other site is refused (its visitors' keys stay theirs).
  router.use((req, res, next) => {
    const origin = req.headers.origin;
    try {
      checkOrigin({ headers: req.headers, encrypted: req.secure }, corsOrigins);
    } catch (e) {
      return sendError(res, e);
    }
    if (origin !== undefined && corsOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', corsAllowedHeaders);
        res.setHeader('Access-Control-Max-Age', '600');
        return res.status(204).end();
      }
    }
    next();
  });
  // Who is asking: an API key (or anyone on a server without keys), and their request budget.
  router.use((req, res, next) => {
    try {
      const who = authorizer.authorize(req, 'generate');
      const address = addressKey(req.socket.remoteAddress);
      const key = who.kind === 'api-key' ? `key:${who.keyId}` : `addr:${address}`;
      res.locals.limitKey = key;
      // The caller's own client identity at the coordinator (its caps, its dashboard rows); an address only as a
      // hash under this process's random salt (the dashboard is public, and IPv4's 2^32 addresses are quickly tried).
      res.locals.onBehalfOf = who.kind === 'api-key' ? `key-${who.keyId}` : `addr-${createHash('sha256').update(addressSalt).update(address).digest('hex').slice(0, 12)}`;
      const waitMs = limiter.take(key);
      if (waitMs > 0) throw new CoordinatorApiError('rate-limited', `too many requests; retry in ${waitMs} ms`, undefined, { retryAfterMs: waitMs, scope: who.kind === 'api-key' ? 'key' : 'address' });
      if (req.method === 'POST') checkJsonBody(req);
    } catch (e) {
      return sendError(res, e);
    }
    next();
  });
  router.use(express.json({ limit: openAiBounds.maxBodyBytes, type: 'application/json' }));

  const modelObject = (id: string) => ({ id, object: 'model', created: startedAtS, owned_by: 'bouquet' });
  router.get('/models', (_req, res) => {
    res.json({ object: 'list', data: ctx.models.ids.map(modelObject) });
  });
  router.get('/models/:model', (req, res) => {
    const id = req.params.model;
    if (!ctx.models.ids.includes(id)) return sendError(res, modelNotFound(id));
    res.json(modelObject(id));
  });

  const serve = (parse: typeof parseCompletionRequest | typeof parseChatCompletionRequest) => (req: Request, res: Response, next: NextFunction) => {
    const parsed = parse(req.body);
    if (!parsed.ok) return sendError(res, parsed.error);
    const request = parsed.value;
    const modelId = request.model;
    if (!ctx.models.ids.includes(modelId)) return sendError(res, modelNotFound(modelId));
    const sessionTokens = ctx.models.get(modelId).model.info.maxSessionTokens;
    if (request.maxTokens !== undefined && request.maxTokens > sessionTokens) {
      return sendError(res, new CoordinatorApiError('bad-request', `max_tokens ${request.maxTokens} is more than this swarm's sessions hold (${sessionTokens} tokens, prompt included)`, 'max_tokens'));
    }
    const key = String(res.locals.limitKey);
    const mine = running.get(key) ?? 0;
    if (mine >= maxPerKey || runningAll >= maxAll) {
      const scope = mine >= maxPerKey ? 'key' : 'server';
      return sendError(res, new CoordinatorApiError('over-quota', `too many answers at once (${scope}: ${mine >= maxPerKey ? maxPerKey : maxAll}); retry when one ends`, undefined, { retryAfterMs: 1000, scope }));
    }
    running.set(key, mine + 1);
    runningAll++;
    const done = (): void => {
      const n = (running.get(key) ?? 1) - 1;
      if (n <= 0) running.delete(key);
      else running.set(key, n);
      runningAll--;
    };
    answer(request, String(res.locals.onBehalfOf), res).catch(next).finally(done);
  };

  async function answer(request: CompletionRequest | ChatCompletionRequest, onBehalfOf: string, res: Response): Promise<void> {
    const gone = new AbortController();
    // The caller went away (socket closed before the answer was sent): cancel the generation, release its route.
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const modelId = request.model;
    const id = responseId(request.kind);
    const created = Math.floor(Date.now() / 1000);
    let result: AnswerResult;
    let sse: SseWriter | undefined;
    try {
      const client = await pool.get(modelId);
      const promptIds = promptIdsOf(client, request, modelId);
      if (gone.signal.aborted) return;
      if (!request.stream) {
        result = await generateAnswer(client, request, promptIds, gone.signal, { onBehalfOf });
        res.json(request.kind === 'chat' ? chatBody(id, created, modelId, result) : completionBody(id, created, modelId, result));
      } else {
        const stream = new SseWriter(res, corsHeaders(res));
        sse = stream;
        stream.onGone(() => gone.abort());
        if (request.kind === 'chat') stream.send(chatChunk(id, created, modelId, { role: 'assistant', content: '' }, null));
        result = await generateAnswer(client, request, promptIds, gone.signal, {
          onBehalfOf,
          onText: (piece) => void stream.send(request.kind === 'chat' ? chatChunk(id, created, modelId, { content: piece }, null) : completionChunk(id, created, modelId, piece, null)),
        });
        stream.send(request.kind === 'chat' ? chatChunk(id, created, modelId, {}, result.finishReason) : completionChunk(id, created, modelId, '', result.finishReason));
        if (request.includeUsage) stream.send({ id, object: request.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created, model: modelId, choices: [], usage: usageOf(result) });
        stream.done();
      }
    } catch (e) {
      if (gone.signal.aborted) {
        ctx.logger.info({ model: modelId, id }, 'openai request cancelled: the caller went away');
        return;
      }
      ctx.logger.warn({ model: modelId, id, code: isBouquetError(e) ? e.code : 'internal', err: e }, 'openai request failed');
      if (sse !== undefined) {
        // Headers are out: the error goes as an event (the SDKs raise it), and the stream ends without [DONE].
        sse.send(openAiError(e).body);
        sse.end();
      } else sendError(res, e);
      return;
    }
    ctx.logger.info(
      { model: modelId, id, kind: request.kind, stream: request.stream, promptTokens: result.promptTokens, completionTokens: result.completionTokens, cpuMs: Math.round(result.cpuMs), cpuMsPerToken: result.completionTokens > 0 ? +(result.cpuMs / result.completionTokens).toFixed(2) : null },
      'openai answer',
    );
  }

  router.post('/completions', serve(parseCompletionRequest));
  router.post('/chat/completions', serve(parseChatCompletionRequest));
  router.use((req, res) => {
    sendError(res, new CoordinatorApiError('not-found', `no endpoint ${req.method} /v1${req.path} (this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`));
  });
  // Body-parser errors (malformed JSON, too large) and bugs, in OpenAI's shape.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.parse.failed') return sendError(res, new CoordinatorApiError('bad-request', 'the body is not valid JSON', '(body)'));
    if (e.status === 413) return sendError(res, new CoordinatorApiError('bad-request', `the body is larger than ${openAiBounds.maxBodyBytes} bytes`, '(body)'));
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendError(res, new CoordinatorApiError('bad-request', 'bad request', '(body)'));
    ctx.logger.error({ err }, 'openai handler failed');
    sendError(res, err);
  });
  return { router, close: () => pool.close() };
}

function modelNotFound(id: string): CoordinatorApiError {
  return new CoordinatorApiError('model-not-found', `the model '${id.slice(0, 256)}' is not served here (GET /v1/models lists them)`, 'model');
}

// The CORS headers already set on the response, repeated in the stream's head (writeHead replaces nothing set before, but be explicit).
function corsHeaders(res: Response): Record<string, string> {
  const origin = res.getHeader('Access-Control-Allow-Origin');
  return typeof origin === 'string' ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {};
}

function usageOf(r: AnswerResult): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

function completionBody(id: string, created: number, model: string, r: AnswerResult) {
  return { id, object: 'text_completion', created, model, choices: [{ index: 0, text: r.text, logprobs: null, finish_reason: r.finishReason }], usage: usageOf(r) };
}

function chatBody(id: string, created: number, model: string, r: AnswerResult) {
  return {
    id, object: 'chat.completion', created, model,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text, refusal: null }, logprobs: null, finish_reason: r.finishReason }],
    usage: usageOf(r),
  };
}

function completionChunk(id: string, created: number, model: string, text: string, finish: string | null) {
  return { id, object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] };
}

function chatChunk(id: string, created: number, model: string, delta: { role?: 'assistant'; content?: string }, finish: string | null) {
  return { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
}
