// `bouquet generate`: single-process generation in Node (onnxruntime-web wasm), streaming text to the terminal.
import { BouquetError } from '../../core/errors/index.ts';
import { parseVerbArgs, verbFailure } from './sim-common.ts';
import * as ort from 'onnxruntime-web';
import { isRuntimeError, createInThreadRuntime, generateText, defaultSampling, samplerFor, validateSampling, type SamplingParams, HfTokenizer, openTokenizer, openModelWeights } from '../../worker/index.ts';
import { isBouquetError } from '../../core/errors/index.ts';
import { resolveModel, terminalProgress } from '../../server/index.ts';
import { fastestWasmThreads } from './wasm-threads.ts';

const usage = `usage: bouquet generate --model M [--prompt P] [options]

Generates text with a model in this process (onnxruntime-web wasm in Node) and streams it.

  --model M               model folder (Hugging Face layout, or llama2.c .bin + tokenizer), a .bin file, or hf:owner/repo[@rev]
                          (hub cache $HF_HUB_CACHE, mirror $HF_ENDPOINT, token $HF_TOKEN)
  --prompt P              prompt text (default: empty, start from BOS as llama2.c's run.c does)
  --max-tokens N          tokens to generate at most (default 256)
  --temperature T         0 = greedy (default 1)
  --top-k K               keep the K most likely tokens (default 0 = off)
  --top-p P               nucleus sampling threshold (default 0.9; 1 = off)
  --repetition-penalty R  penalty for tokens already seen (default 1 = off)
  --seed S                random seed (default: time)
  --threads N             wasm threads (default: 1 for models narrower than 512, else the faster of
                          1 and min(4, cores) by a short probe at start)
  --ops contrib|standard  operator flavour of the graphs (default contrib)
  --precision fp32|q8|q4  weight precision (default fp32; fp16 needs WebGPU)
  --chat                  wrap the prompt as a user message in the model's chat template (instruct models)
  --json                  print {"text", "ids", "tokensPerSecond"} instead of streaming
  --help                  this text`;

const fail = (message: string): number => verbFailure('generate', message);

function numberOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v)) throw new BouquetError('bad-argument', `--${name} must be a number (got ${JSON.stringify(raw)})`);
  return v;
}

/** Runs the verb; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseVerbArgs('generate', argv, {
      model: { type: 'string' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      ops: { type: 'string' },
      precision: { type: 'string' },
      json: { type: 'boolean' },
      chat: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
  }, usage);
  if (typeof parsed === 'number') return parsed;
  const values: Record<string, string | boolean | undefined> = parsed;
  const modelSpec = values.model;
  if (typeof modelSpec !== 'string' || modelSpec === '') return fail('--model is required (see --help)');
  let sampling: SamplingParams;
  let maxTokens: number;
  let seed: number;
  let threads: number | undefined;
  try {
    sampling = {
      temperature: numberOption(values, 'temperature', defaultSampling.temperature),
      topK: numberOption(values, 'top-k', defaultSampling.topK),
      topP: numberOption(values, 'top-p', defaultSampling.topP),
      repetitionPenalty: numberOption(values, 'repetition-penalty', defaultSampling.repetitionPenalty),
    };
    validateSampling(sampling);
    maxTokens = numberOption(values, 'max-tokens', 256);
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new BouquetError('bad-argument', `--max-tokens must be a positive integer (got ${maxTokens})`);
    seed = numberOption(values, 'seed', Date.now());
    threads = values.threads === undefined ? undefined : numberOption(values, 'threads', 1);
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new BouquetError('bad-argument', '--threads must be a positive integer');
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  const ops = values.ops ?? 'contrib';
  if (ops !== 'contrib' && ops !== 'standard') return fail(`--ops must be contrib or standard (got '${String(ops)}')`);
  const precision = values.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'q8' && precision !== 'q4') return fail(`--precision must be fp32, q8 or q4 in Node (got '${String(precision)}')`);

  try {
    const model = await resolveModel(modelSpec, { onProgress: terminalProgress() });
    const weights = await openModelWeights(model.files, model.layout);
    const tokenizer = await openTokenizer(model.files, weights.shape);
    const shape = weights.shape;
    const rt = await createInThreadRuntime(ort, weights, {
      blocks: { start: 0, end: shape.numBlocks },
      client: true,
      ops,
      precision,
      maxSessionTokens: shape.maxSeqLen,
      cacheBudgetBytes: Number.MAX_SAFE_INTEGER,
      backends: ['wasm'],
      // Small models lose more to thread hand-offs than they gain (stories260K: 260 tok/s on 1 thread, 40 on 2 here);
      // for the rest, measure: 4 threads on a busy 2-core machine ran at half the speed of 1.
      threads: threads ?? (shape.hiddenSize < 512 ? 1 : (await fastestWasmThreads()).threads),
    });
    try {
      const json = values.json === true;
      const prompt = typeof values.prompt === 'string' ? values.prompt : '';
      let promptIds: number[] | undefined;
      if (values.chat === true) {
        if (!(tokenizer instanceof HfTokenizer) || tokenizer.chatTemplate === null) return fail('--chat needs a model whose tokenizer_config.json has a chat_template');
        promptIds = tokenizer.encodeTemplated(tokenizer.applyChatTemplate([{ role: 'user', content: prompt }]));
      }
      const result = await generateText(rt, tokenizer, promptIds ?? prompt, {
        maxNewTokens: maxTokens,
        sampler: samplerFor(sampling, seed),
        ...(json ? {} : { onText: (s: string) => void process.stdout.write(s) }),
      });
      if (json) {
        console.log(JSON.stringify({ text: result.text, ids: result.ids, tokensPerSecond: result.tokensPerSecond }));
      } else {
        process.stdout.write('\n');
        console.error(`achieved tok/s: ${result.tokensPerSecond.toFixed(1)} (prefill ${result.prefillMs.toFixed(1)} ms for ${result.promptIds.length} tokens)`);
      }
    } finally {
      await rt.dispose();
    }
    return 0;
  } catch (e) {
    if (isRuntimeError(e) || isBouquetError(e)) return fail(`${e.message} [${e.code}]`);
    throw e;
  }
}
