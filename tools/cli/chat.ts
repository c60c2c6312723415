// `bouquet chat`: one prompt through a swarm from Node (the tab's client session: routes, failover, the one generation loop), printing the text.
import { BouquetError, isBouquetError } from '../../core/errors/index.ts';
import { quantile } from '../../core/stats/index.ts';
import { startNodeClient, type NodeClient } from '../node-peer/index.ts';
import { defaultSampling, isRuntimeError, validateSampling, type SamplingParams } from '../../worker/index.ts';
import { intOption, parseVerbArgs, verbFailure } from './sim-common.ts';

const usage = `usage: bouquet chat --server URL [--prompt P] [options]

Generates through the swarm at URL from this process: the embedding and LM head run here (wasm), the
blocks on the swarm's volunteers over WebRTC, with failover. Same sampling options and defaults as
bouquet generate, so with --temperature 0 both print the same text.

  --server URL            the coordinator, e.g. http://127.0.0.1:8787
  --prompt P              prompt text (default: empty, from BOS)
  --model ID              model (default: the server's first)
  --max-tokens N          tokens to generate at most (default 256, cut to the swarm's session length)
  --temperature T         0 = greedy (default 1)
  --top-k K               (default 0 = off)
  --top-p P               (default 0.9)
  --repetition-penalty R  (default 1 = off)
  --seed S                random seed (default: time)
  --json                  print {"text","ids","route","failovers","perTokenMs","tokensPerSecond"} instead of streaming
  -h, --help              this text`;

const fail = (message: string): number => verbFailure('chat', message);

function num(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw new BouquetError('bad-argument', `--${name} must be a number (got ${JSON.stringify(raw)})`);
  return v;
}

/** Runs the verb; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseVerbArgs('chat', argv, {
    server: { type: 'string' }, prompt: { type: 'string' }, model: { type: 'string' }, 'max-tokens': { type: 'string' },
    temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, 'repetition-penalty': { type: 'string' },
    seed: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, usage);
  if (typeof parsed === 'number') return parsed;
  const origin = parsed.server;
  if (origin === undefined || origin === '') return fail('--server is required (the coordinator, e.g. http://127.0.0.1:8787)');
  let sampling: SamplingParams;
  let maxTokens: number;
  let seed: number;
  try {
    new URL(origin);
    sampling = {
      temperature: num(parsed.temperature, 'temperature', defaultSampling.temperature),
      topK: num(parsed['top-k'], 'top-k', defaultSampling.topK),
      topP: num(parsed['top-p'], 'top-p', defaultSampling.topP),
      repetitionPenalty: num(parsed['repetition-penalty'], 'repetition-penalty', defaultSampling.repetitionPenalty),
    };
    validateSampling(sampling);
    maxTokens = intOption(parsed['max-tokens'], 'max-tokens', 256, 1);
    seed = intOption(parsed.seed, 'seed', Date.now(), 0);
  } catch (e) {
    return fail(e instanceof TypeError ? `--server must be a URL (got '${origin}')` : e instanceof Error ? e.message : String(e));
  }
  const json = parsed.json === true;
  const prompt = parsed.prompt ?? '';
  let client: NodeClient | undefined;
  try {
    client = await startNodeClient({ origin, ...(parsed.model !== undefined ? { modelId: parsed.model } : {}) });
    const result = await client.generate({
      prompt, maxNewTokens: maxTokens, sampling, seed,
      ...(json ? {} : {
        onText: (s: string) => void process.stdout.write(s),
        onFailover: (f) => void process.stderr.write(`\n[chat] failover at token ${f.atToken}: ${f.failedPeer} ${f.code} → ${f.replacement.map((h) => h.peerId).join(', ')}\n`),
      }),
    });
    if (json) {
      console.log(JSON.stringify({ text: result.text, ids: result.ids, route: result.route, failovers: result.failovers, perTokenMs: result.perTokenMs, tokensPerSecond: result.tokensPerSecond }));
    } else {
      process.stdout.write('\n');
      console.error(`route: ${result.route.map((h) => `${h.peerId} [${h.span.start}, ${h.span.end})`).join(' → ')}`);
      console.error(`achieved tok/s: ${result.tokensPerSecond.toFixed(1)}; per-token median ${quantile(result.perTokenMs, 0.5).toFixed(1)} ms; failovers ${result.failovers.length}`);
    }
    return 0;
  } catch (e) {
    if (isBouquetError(e) || isRuntimeError(e)) return fail(`${e.message} [${e.code}]`);
    throw e;
  } finally {
    await client?.close().catch(() => undefined);
    // PeerJS and libdatachannel may leave handles behind; they must not keep a finished chat alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
  }
}
