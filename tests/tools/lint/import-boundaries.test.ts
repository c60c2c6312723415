// The part boundaries hold: lint refuses deep imports across parts, Node and page APIs in core/, and tsc for core/ has no DOM or Node types.
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');

// The repository's own eslint.config.js, minus type information: the snippets below are not files
// on disk, so no tsconfig holds them (the boundary rules need no types).
const eslint = new ESLint({ cwd: root, overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }] });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, filePath) });
  expect(result?.fatalErrorCount).toBe(0);
  return (result?.messages ?? []).map((m) => m.ruleId ?? 'none').sort();
}

describe('lint: no deep imports across parts', () => {
  it('refuses a file inside core/placement from server/, accepts its index.ts', async () => {
    expect(await ruleIds("export { bprr } from '../core/placement/bprr.ts';\n", 'server/fake.ts')).toEqual(['bouquet/no-deep-import']);
    expect(await ruleIds("export { placeBlocks } from '../core/placement/index.ts';\n", 'server/fake.ts')).toEqual([]);
  });

  it('refuses worker/runtime/index.ts from web/ (worker/index.ts is the surface), but allows the worker entry for new Worker(new URL(...))', async () => {
    expect(await ruleIds("export { createInThreadRuntime } from '../../worker/runtime/index.ts';\n", 'web/client/fake.ts')).toEqual(['bouquet/no-deep-import']);
    expect(await ruleIds("export const url = new URL('../../worker/weights/open.ts', import.meta.url);\n", 'web/client/fake.ts')).toEqual(['bouquet/no-deep-import']);
    expect(await ruleIds("export const url = new URL('../../worker/block-worker.ts', import.meta.url);\n", 'web/client/fake.ts')).toEqual([]);
  });

  it('refuses a sibling sub-part inside the same part, accepts files of the importer\'s own folder', async () => {
    expect(await ruleIds("export { jffc } from '../routing/jffc.ts';\n", 'core/placement/fake.ts')).toEqual(['bouquet/no-deep-import']);
    expect(await ruleIds("export { bprr } from './bprr.ts';\n", 'core/placement/fake.ts')).toEqual([]);
  });
});

describe('lint: what each part may import', () => {
  it('refuses Node built-ins in core/, sim/, worker/ and web/, allows them in server/ and tools/', async () => {
    const code = "import { readFileSync } from 'node:fs';\nimport path from 'path';\nexport const x = [readFileSync, path];\n";
    for (const file of ['core/x/fake.ts', 'sim/fake.ts', 'worker/fake.ts', 'web/client/fake.ts']) {
      expect(await ruleIds(code, file)).toEqual(['no-restricted-imports', 'no-restricted-imports']);
    }
    expect(await ruleIds(code, 'server/fake.ts')).toEqual([]);
    expect(await ruleIds(code, 'tools/cli/fake.ts')).toEqual([]);
  });

  it('refuses parts outside the allowed list, and tests/ from any source', async () => {
    expect(await ruleIds("export { createServer } from '../../server/index.ts';\n", 'core/x/fake.ts')).toEqual(['no-restricted-imports']);
    expect(await ruleIds("export { simulate } from '../sim/index.ts';\n", 'worker/fake.ts')).toEqual(['no-restricted-imports']);
    expect(await ruleIds("export { createServer } from '../../server/index.ts';\n", 'web/client/fake.ts')).toEqual(['no-restricted-imports']);
    expect(await ruleIds("export { toyModel } from '../tests/support/toy-model.ts';\n", 'server/fake.ts')).toEqual(['no-restricted-imports']);
    expect(await ruleIds("export { simulate } from '../sim/index.ts';\n", 'server/fake.ts')).toEqual([]);
  });

  it('refuses page and Node globals in core/', async () => {
    expect(await ruleIds('export const title = document.title;\n', 'core/x/fake.ts')).toEqual(['no-restricted-globals']);
    expect(await ruleIds('export const env = process.env;\n', 'core/x/fake.ts')).toEqual(['no-restricted-globals']);
    expect(await ruleIds('export const env = process.env;\n', 'web/client/fake.ts')).toEqual(['no-restricted-globals']);
    expect(await ruleIds('export const t = globalThis.performance.now();\n', 'core/x/fake.ts')).toEqual([]);
  });
});

describe('tsc: core/ compiles without DOM and Node types', () => {
  it('rejects document and process in a core file, accepts the declared host globals', () => {
    const configPath = path.join(root, 'core/tsconfig.json');
    const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    if (parsed === undefined) throw new Error('core/tsconfig.json did not parse');
    const fake = path.join(root, 'core/x/fake-host.ts');
    const source = 'export const a = document.title;\nexport const b = process.env;\nexport const c = performance.now() + new TextEncoder().encode("x").length;\n';
    const host = ts.createCompilerHost(parsed.options);
    const readFile = host.readFile.bind(host);
    host.fileExists = ((exists) => (f: string) => f === fake || exists(f))(host.fileExists.bind(host));
    host.readFile = (f) => (f === fake ? source : readFile(f));
    const hostGlobals = path.join(root, 'core/host-globals.d.ts');
    const program = ts.createProgram({ rootNames: [fake, hostGlobals], options: parsed.options, host });
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === fake);
    const lines = diagnostics.map((d) => (d.file === undefined || d.start === undefined ? -1 : d.file.getLineAndCharacterOfPosition(d.start).line));
    // TS2584: a DOM name without the DOM lib; TS2591: a Node name without Node types in `types`.
    expect(diagnostics.map((d) => d.code).sort()).toEqual([2584, 2591]);
    expect(lines.sort()).toEqual([0, 1]);
  });
});
