// Request validation of the OpenAI-compatible API: untrusted JSON in, a typed, bounded request or a coded `bad-request` naming the field out.
import { CoordinatorApiError } from '../../core/api/index.ts';

/**
 * Every bound on what a caller may send, and why. Prompts are bounded in characters before any
 * tokenizer runs (a tokenizer's cost grows with its input); token counts are checked against the
 * served model's session length later, where it is known.
 */
export const openAiBounds = {
  /** Body size, bytes: a 100k-character prompt in JSON with escapes fits. */
  maxBodyBytes: 1 << 20,
  /** Characters of a prompt, or of all of a chat's messages together. */
  maxPromptChars: 200_000,
  /** Token ids of a prompt given as ids (longer than any session this swarm sizes). */
  maxPromptIds: 1 << 16,
  /** Messages of one chat. */
  maxMessages: 512,
  /** Stop sequences (OpenAI's own limit), and characters of each. */
  maxStops: 4,
  maxStopChars: 256,
  /** Largest `max_tokens` accepted at all (the served model's session length bounds it further). */
  maxTokens: 1 << 20,
  /** Sampling temperature range (OpenAI's). */
  maxTemperature: 2,
  /** Characters of a model id. */
  maxModelChars: 256,
} as const;

/** Sampling and limits common to both endpoints (OpenAI's names turned into ours). */
export interface OpenAiGenerationParams {
  model: string;
  /** `max_tokens` (chat: or `max_completion_tokens`); absent: the endpoint's default. */
  maxTokens: number | undefined;
  /** 0 = greedy; default 1, as OpenAI's. */
  temperature: number;
  /** Nucleus threshold in (0, 1]; default 1, as OpenAI's. */
  topP: number;
  /** Seed of the sampler; absent: a random one. */
  seed: number | undefined;
  /** Stop sequences: the text ends before the first one (it is not returned). */
  stop: string[];
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with usage and no choices. */
  includeUsage: boolean;
}

/** A validated `POST /v1/completions` body. */
export interface CompletionRequest extends OpenAiGenerationParams {
  kind: 'completion';
  /** Text (BOS is put first, as `bouquet generate` does), or token ids as they are. */
  prompt: string | number[];
}

/** One chat message, text only. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A validated `POST /v1/chat/completions` body. */
export interface ChatCompletionRequest extends OpenAiGenerationParams {
  kind: 'chat';
  messages: ChatMessage[];
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: CoordinatorApiError };

const bad = (field: string, message: string): CoordinatorApiError => new CoordinatorApiError('bad-request', message, field);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalNumber(body: Record<string, unknown>, field: string, min: number, max: number, minExclusive = false): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v > max || (minExclusive ? v <= min : v < min)) {
    throw bad(field, `${field} must be a number in ${minExclusive ? '(' : '['}${min}, ${max}]`);
  }
  return v;
}

function optionalInteger(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = optionalNumber(body, field, min, max);
  if (v !== undefined && !Number.isInteger(v)) throw bad(field, `${field} must be a whole number`);
  return v;
}

// Fields that would change what is returned in ways we do not support: refused rather than silently ignored.
function refuseUnsupported(body: Record<string, unknown>): void {
  // One choice per request: n and best_of may only be 1 (the range check throws otherwise).
  optionalInteger(body, 'n', 1, 1);
  optionalInteger(body, 'best_of', 1, 1);
  if (body.echo !== undefined && body.echo !== null && body.echo !== false) throw bad('echo', 'echo is not supported');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false) throw bad('logprobs', 'logprobs are not supported');
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) throw bad('top_logprobs', 'top_logprobs are not supported');
  if (body.suffix !== undefined && body.suffix !== null && body.suffix !== '') throw bad('suffix', 'suffix (insertion) is not supported');
  for (const f of ['presence_penalty', 'frequency_penalty']) {
    if (body[f] !== undefined && body[f] !== null && body[f] !== 0) throw bad(f, `${f} is not supported (only 0)`);
  }
  if (isRecord(body.logit_bias) && Object.keys(body.logit_bias).length > 0) throw bad('logit_bias', 'logit_bias is not supported');
  for (const f of ['tools', 'functions']) {
    if (Array.isArray(body[f]) && (body[f] as unknown[]).length > 0) throw bad(f, `${f} (tool calls) are not supported`);
  }
  const format = body.response_format;
  if (format !== undefined && format !== null && !(isRecord(format) && format.type === 'text')) throw bad('response_format', 'only response_format {type: "text"} is supported');
}

function parseStop(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > openAiBounds.maxStops) throw bad('stop', `stop must be a string or up to ${openAiBounds.maxStops} strings`);
  return list.map((s, i) => {
    if (typeof s !== 'string' || s.length === 0 || s.length > openAiBounds.maxStopChars) throw bad(`stop.${i}`, `each stop sequence must be 1 to ${openAiBounds.maxStopChars} characters`);
    return s;
  });
}

function parseCommon(body: Record<string, unknown>, maxTokensFields: readonly string[]): OpenAiGenerationParams {
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0 || model.length > openAiBounds.maxModelChars) throw bad('model', `model must be a model id of 1 to ${openAiBounds.maxModelChars} characters (GET /v1/models lists them)`);
  refuseUnsupported(body);
  let maxTokens: number | undefined;
  for (const f of maxTokensFields) maxTokens ??= optionalInteger(body, f, 1, openAiBounds.maxTokens);
  const stream = body.stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw bad('stream', 'stream must be true or false');
  const options = body.stream_options;
  if (options !== undefined && options !== null && !isRecord(options)) throw bad('stream_options', 'stream_options must be an object');
  const includeUsage = isRecord(options) && options.include_usage === true;
  return {
    model,
    maxTokens,
    temperature: optionalNumber(body, 'temperature', 0, openAiBounds.maxTemperature) ?? 1,
    topP: optionalNumber(body, 'top_p', 0, 1, true) ?? 1,
    seed: optionalInteger(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    stop: parseStop(body.stop),
    stream: stream === true,
    includeUsage,
  };
}

function parsePrompt(v: unknown): string | number[] {
  // OpenAI accepts a string, token ids, or a list of either (one completion each); we serve one prompt per request.
  const one = Array.isArray(v) && v.length === 1 && (typeof v[0] === 'string' || Array.isArray(v[0])) ? v[0] : v;
  if (typeof one === 'string') {
    if (one.length > openAiBounds.maxPromptChars) throw bad('prompt', `prompt must be at most ${openAiBounds.maxPromptChars} characters`);
    return one;
  }
  if (Array.isArray(one) && one.length > 0 && one.length <= openAiBounds.maxPromptIds && one.every((t) => Number.isInteger(t) && (t as number) >= 0 && (t as number) < 2 ** 31)) {
    return one as number[];
  }
  throw bad('prompt', `prompt must be one string or one list of 1 to ${openAiBounds.maxPromptIds} token ids (one prompt per request)`);
}

function messageText(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  // Content parts: text only.
  if (Array.isArray(content) && content.length <= openAiBounds.maxMessages) {
    return content.map((part, i) => {
      if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
      throw bad(`${field}.${i}`, 'only text content parts are supported');
    }).join('');
  }
  throw bad(field, 'content must be a string or a list of text parts');
}

function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > openAiBounds.maxMessages) throw bad('messages', `messages must be a list of 1 to ${openAiBounds.maxMessages} messages`);
  let chars = 0;
  return v.map((m, i): ChatMessage => {
    if (!isRecord(m)) throw bad(`messages.${i}`, 'each message must be an object {role, content}');
    // `developer` is OpenAI's newer name for `system`.
    const role = m.role === 'developer' ? 'system' : m.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw bad(`messages.${i}.role`, 'role must be system, developer, user or assistant (tool messages are not supported)');
    const content = messageText(m.content, `messages.${i}.content`);
    chars += content.length;
    if (chars > openAiBounds.maxPromptChars) throw bad('messages', `messages must hold at most ${openAiBounds.maxPromptChars} characters together`);
    return { role, content };
  });
}

function parseWith<T>(raw: unknown, parse: (body: Record<string, unknown>) => T): Parsed<T> {
  if (!isRecord(raw)) return { ok: false, error: bad('(body)', 'the body must be a JSON object') };
  try {
    return { ok: true, value: parse(raw) };
  } catch (e) {
    if (e instanceof CoordinatorApiError) return { ok: false, error: e };
    throw e;
  }
}

/** Validates a `POST /v1/completions` body. */
export function parseCompletionRequest(raw: unknown): Parsed<CompletionRequest> {
  return parseWith(raw, (body) => ({ kind: 'completion', ...parseCommon(body, ['max_tokens']), prompt: parsePrompt(body.prompt) }));
}

/** Validates a `POST /v1/chat/completions` body. */
export function parseChatCompletionRequest(raw: unknown): Parsed<ChatCompletionRequest> {
  return parseWith(raw, (body) => ({ kind: 'chat', ...parseCommon(body, ['max_completion_tokens', 'max_tokens']), messages: parseMessages(body.messages) }));
}
