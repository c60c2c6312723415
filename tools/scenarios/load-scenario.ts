// Scenario files from disk (Node): reads the JSON and any trace file it names, then validates with sim's parseScenario.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseScenario, ScenarioError, type Scenario } from '../../sim/index.ts';

/** Reads and validates a scenario file; a trace file it names is read relative to the scenario's folder. Throws ScenarioError naming the field or the file problem. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ScenarioError('scenario', `cannot read ${path}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError('scenario', `${path} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const baseDir = dirname(path);
  return parseScenario(doc, { readTextFile: (file) => readFileSync(resolve(baseDir, file), 'utf8') });
}

/** Most bytes a scenario fetched from a URL may have. */
export const maxFetchedScenarioBytes = 32 * 1024 * 1024;

/**
 * A scenario from a file path or an http(s) URL (a live server's GET /api/scenario): fetched with a
 * 15 s timeout and a size cap, then validated; a fetched scenario cannot name a trace file.
 */
export async function loadScenarioFrom(source: string): Promise<Scenario> {
  if (!/^https?:\/\//i.test(source)) return loadScenario(source);
  let text: string;
  try {
    const res = await fetch(source, { signal: AbortSignal.timeout(15_000), headers: { accept: 'application/json' } });
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxFetchedScenarioBytes) throw new ScenarioError('scenario', `${source} is larger than ${maxFetchedScenarioBytes} bytes`);
    text = await res.text();
    if (text.length > maxFetchedScenarioBytes) throw new ScenarioError('scenario', `${source} is larger than ${maxFetchedScenarioBytes} bytes`);
    if (!res.ok) throw new ScenarioError('scenario', `${source} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    throw new ScenarioError('scenario', `cannot fetch ${source} (${e instanceof Error ? e.message : String(e)})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError('scenario', `${source} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseScenario(doc);
}
