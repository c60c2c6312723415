// Shared plumbing of the CLI verbs: option parsing, user errors → one line on stderr and exit code 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ScenarioError, type Scenario } from '../../sim/index.ts';
import { UnknownPolicyError } from '../../core/placement/index.ts';
import { BouquetError, registerErrorKind } from '../../core/errors/index.ts';
import { loadScenario } from '../scenarios/index.ts';

/** Error codes that mean "the user's input is wrong", not "the program is broken". */
const userErrorCodes = new Set(['bad-scenario', 'infeasible', 'unknown-policy', 'bad-snapshot', 'bad-model-config', 'bad-argument']);

/** A bad command-line argument. */
export class ArgumentError extends BouquetError<'bad-argument'> {
  constructor(message: string) {
    super('bad-argument', message);
  }
}
registerErrorKind('ArgumentError', ArgumentError);

function isUserError(e: unknown): e is Error {
  if (e instanceof ScenarioError || e instanceof UnknownPolicyError || e instanceof ArgumentError) return true;
  if (!(e instanceof Error)) return false;
  const code = (e as Error & { code?: unknown }).code;
  return typeof code === 'string' && (userErrorCodes.has(code) || code.startsWith('ERR_PARSE_ARGS'));
}

/** Runs a verb body; user errors print `bouquet <verb>: <message>` on stderr and give exit code 2. */
export async function runVerb(verb: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (isUserError(e)) return verbFailure(verb, e.message.split('\n')[0] ?? '');
    throw e;
  }
}

/** Edit distance between two short words (insertions, deletions, substitutions; each costs 1). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate closest to `word` when it is close enough to be a typo (at most a third of its
 * length, at least 2 edits, away), else undefined; a candidate that starts with `word` also counts.
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * A parseArgs failure as an ArgumentError in our words: an unknown option names the closest known
 * one ("did you mean --max-tokens?"); any other failure keeps parseArgs' message.
 */
export function argumentError(e: unknown, options: NonNullable<ParseArgsConfig['options']> | readonly string[]): ArgumentError {
  const message = e instanceof Error ? e.message : String(e);
  const unknown = /^Unknown option '(-{1,2})([^'=]+)'/.exec(message);
  if (unknown === null) return new ArgumentError(message.split('\n')[0] ?? message);
  const given = `${unknown[1] ?? ''}${unknown[2] ?? ''}`;
  const names = Array.isArray(options) ? options : Object.keys(options);
  const suggestion = closestName(unknown[2] ?? '', names);
  return new ArgumentError(`unknown option '${given}'${suggestion !== undefined ? ` (did you mean --${suggestion}?)` : ''}; see --help`);
}

/** The long option names a verb's usage text lists (`--max-tokens <n>` → 'max-tokens'), for suggestions. */
export function usageFlags(usage: string): string[] {
  return [...new Set([...usage.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1] ?? ''))];
}

/** What {@link parse} answers: node:util parseArgs' result for `options`, strict, no positionals. */
export type ParsedArgs<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>;

/** node:util parseArgs, strict, with positionals refused; throws ArgumentError (with a suggestion for a typo). */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T): ParsedArgs<T> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (e) {
    throw argumentError(e, options);
  }
}

/**
 * The opening of a verb that reports its own errors: parses `argv` (strict, no positionals); for
 * `--help` prints `usage` and answers exit code 0; for a bad option prints `bouquet <verb>: <why>`
 * and answers 2. Otherwise the parsed values.
 */
export function parseVerbArgs<T extends NonNullable<ParseArgsConfig['options']>>(verb: string, argv: string[], options: T, usage: string): ReturnType<typeof parse<T>>['values'] | number {
  let values: ReturnType<typeof parse<T>>['values'];
  try {
    values = parse(argv, options).values;
  } catch (e) {
    return verbFailure(verb, e instanceof Error ? e.message : String(e));
  }
  if ((values as { help?: unknown }).help === true) {
    console.log(usage);
    return 0;
  }
  return values;
}

/** Prints `bouquet <verb>: <message>` on stderr and answers exit code 2 (a user error a verb reports itself). */
export function verbFailure(verb: string, message: string): number {
  console.error(`bouquet ${verb}: ${message}`);
  return 2;
}

/** An integer option, or the default; an empty value is refused (Number('') would read it as 0). */
export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new ArgumentError(`--${name} must be an integer ≥ ${min} (got '${value}')`);
  return n;
}

/** What `bouquet plan` and `bouquet sim` both take: a scenario, one policy, a seed and --json. */
export interface ScenarioPolicyArgs {
  scenario: Scenario;
  policy: string;
  seed: number;
  json: boolean;
}

/**
 * Parses `--scenario FILE --policy NAME [--seed S] [--json]` and loads the scenario (or takes
 * `loaded`, a scenario read elsewhere, e.g. by `sim --from`); null after
 * printing `usage` for --help. Throws ArgumentError for a missing or bad option.
 */
export function parseScenarioPolicy(argv: string[], usage: string, loaded?: Scenario): ScenarioPolicyArgs | null {
  const { values } = parse(argv, {
    scenario: { type: 'string' },
    policy: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(usage);
    return null;
  }
  if (loaded !== undefined && values.scenario !== undefined) throw new ArgumentError('give --scenario FILE or --from SOURCE, not both');
  if (loaded === undefined && values.scenario === undefined) throw new ArgumentError('--scenario FILE is required (see --help)');
  if (values.policy === undefined) throw new ArgumentError('--policy NAME is required (see --help)');
  const scenario = loaded ?? loadScenario(values.scenario ?? '');
  return { scenario, policy: values.policy, seed: intOption(values.seed, 'seed', 1), json: values.json === true };
}

/** Seconds with 3 significant decimals for tables. */
export function seconds(ms: number): string {
  return Number.isFinite(ms) ? (ms / 1000).toFixed(3) : '—';
}

/** Renders rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
