// Scenario files from disk: loadScenario reads a trace next to the scenario; sim's parseScenario itself reads nothing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError } from '../../../sim/index.ts';
import { loadScenario } from '../../../tools/scenarios/index.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A bundled scenario with its arrivals replaced by a trace file of three requests.
const base = JSON.parse(readFileSync('scenarios/bprr-clustered.json', 'utf8')) as Record<string, unknown>;
const withTrace = { ...base, arrivals: { process: 'trace', file: 'trace.csv' } };
writeFileSync(path.join(dir, 'scenario.json'), JSON.stringify(withTrace));
writeFileSync(path.join(dir, 'trace.csv'), 'atMs,inputTokens,outputTokens\n0,20,8\n100,20,8\n250,30,4\n');

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof ScenarioError ? e.code : 'not a ScenarioError';
  }
  return undefined;
}

describe('loadScenario', () => {
  it('reads the trace file the scenario names, relative to the scenario\'s folder', () => {
    const s = loadScenario(path.join(dir, 'scenario.json'));
    expect(s.arrivals.process).toBe('trace');
    const entries = s.arrivals.process === 'trace' ? s.arrivals.entries : [];
    expect(entries.map((e) => [e.atMs, e.inputTokens, e.outputTokens])).toEqual([[0, 20, 8], [100, 20, 8], [250, 30, 4]]);
  });

  it('refuses a missing scenario file and a missing trace with code bad-scenario', () => {
    expect(codeOf(() => loadScenario(path.join(dir, 'nope.json')))).toBe('bad-scenario');
    writeFileSync(path.join(dir, 'lost-trace.json'), JSON.stringify({ ...base, arrivals: { process: 'trace', file: 'missing.csv' } }));
    expect(codeOf(() => loadScenario(path.join(dir, 'lost-trace.json')))).toBe('bad-scenario');
  });
});

describe('parseScenario (pure)', () => {
  it('refuses a trace file when given no reader, and reads it through the reader it is given', () => {
    expect(codeOf(() => parseScenario(withTrace))).toBe('bad-scenario');
    const asked: string[] = [];
    const s = parseScenario(withTrace, { readTextFile: (p) => (asked.push(p), 'atMs,inputTokens,outputTokens\n5,1,1\n') });
    expect(asked).toEqual(['trace.csv']);
    expect(s.arrivals.process === 'trace' ? s.arrivals.entries : []).toEqual([{ atMs: 5, inputTokens: 1, outputTokens: 1 }]);
  });
});
