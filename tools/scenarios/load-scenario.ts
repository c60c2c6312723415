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
