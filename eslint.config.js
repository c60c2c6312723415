// Lint rules of the house: strict TypeScript, no floating promises, no any, no non-null assertions, and the part boundaries (docs/architecture.md).
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import svelteParser from 'svelte-eslint-parser';
import bouquet from './tools/lint/import-boundaries.js';

const root = import.meta.dirname;

// Which top-level folders each part must not import (docs/architecture.md, "The parts"). A
// relative specifier climbs with ../ and then names the folder, whatever the importer's depth.
const allParts = ['core', 'sim', 'worker', 'web', 'server', 'tools', 'bin', 'tests'];
const mayImport = {
  core: ['core'],
  sim: ['core', 'sim'],
  worker: ['core', 'worker'],
  web: ['core', 'worker', 'web'],
  server: ['core', 'sim', 'worker', 'server'],
  tools: ['core', 'sim', 'worker', 'web', 'server', 'tools'],
  bin: ['core', 'sim', 'worker', 'web', 'server', 'tools', 'bin'],
};
// Code that runs in a browser, a worker or nowhere in particular (pure) gets no Node built-ins.
const browserSafe = new Set(['core', 'sim', 'worker', 'web']);

const nodeBuiltins = {
  paths: builtinModules.map((name) => ({ name, message: 'Node built-ins only in server/, tools/ and bin/: this part runs in a browser, a worker, or is pure.' })),
  patterns: [{ group: ['node:*'], message: 'Node built-ins only in server/, tools/ and bin/: this part runs in a browser, a worker, or is pure.' }],
};

/** no-restricted-imports options for a part: the folders it may not reach, and Node built-ins where it must stay browser-safe. */
function restrictedImports(part, { noNode }) {
  const refused = allParts.filter((p) => !mayImport[part].includes(p));
  const patterns = refused.map((p) => ({
    regex: `^(\\.\\./)+${p}(/|$)`,
    message: `${part}/ may import only ${mayImport[part].join(', ')} (docs/architecture.md); ${p === 'tests' ? 'sources never import tests/' : `not ${p}/`}.`,
  }));
  return noNode ? { paths: nodeBuiltins.paths, patterns: [...patterns, ...nodeBuiltins.patterns] } : { patterns };
}

// Globals of the wrong host: Node's in browser-safe parts, the page's in pure code and in the worker.
const nodeGlobals = ['process', 'Buffer', 'require', 'module', '__dirname', '__filename', 'global', 'setImmediate'];
const pageGlobals = ['document', 'window', 'localStorage', 'sessionStorage', 'location'];
const restrictedGlobals = (names, why) => names.map((name) => ({ name, message: why }));

const partConfigs = Object.keys(mayImport).map((part) => ({
  files: [`${part}/**/*.ts`, `${part}/**/*.svelte`],
  rules: { 'no-restricted-imports': ['error', restrictedImports(part, { noNode: browserSafe.has(part) })] },
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test-results/**', 'bin/bouquet.js', 'server/placement/thread-boot.mjs', 'eslint.config.js', 'tools/lint/import-boundaries.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  ...svelte.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root, extraFileExtensions: ['.svelte'] } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.svelte'],
    languageOptions: { parser: svelteParser, parserOptions: { parser: tseslint.parser, projectService: true, tsconfigRootDir: root, extraFileExtensions: ['.svelte'] } },
    // TypeScript alone cannot see a component's props (imports of .svelte are untyped to it), so the
    // any-flow rules would flag every callback prop; svelte-check (npm run check) types them instead.
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  // Runes modules (*.svelte.ts) are plain TypeScript to the type checker: keep the TypeScript parser.
  {
    files: ['**/*.svelte.ts'],
    languageOptions: { parser: tseslint.parser },
  },
  // Every switch over a union names every member (the house's `const never: never = x` default is allowed).
  {
    files: ['**/*.ts', '**/*.svelte'],
    rules: { '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }] },
  },
  // Part boundaries: what each top-level folder may import (one config object per part).
  ...partConfigs,
  // The runtime bench page runs in a browser tab, though it lives under tools/.
  {
    files: ['tools/bench/runtime/page/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', restrictedImports('web', { noNode: true })] },
  },
  // No deep imports across parts: outside a folder with an index.ts, import that index.ts. The
  // worker entry is named by file (`new Worker(new URL(...))`), so it is allowed as is.
  {
    files: ['core/**/*.ts', 'sim/**/*.ts', 'worker/**/*.ts', 'web/**/*.ts', 'web/**/*.svelte', 'server/**/*.ts', 'tools/**/*.ts', 'bin/**/*.ts'],
    plugins: { bouquet },
    rules: { 'bouquet/no-deep-import': ['error', { root, entries: ['worker/block-worker.ts'] }] },
  },
  // Host globals: pure code and the worker never touch the page or Node; the page never touches Node.
  {
    files: ['core/**/*.ts', 'sim/**/*.ts'],
    rules: { 'no-restricted-globals': ['error', ...restrictedGlobals([...nodeGlobals, ...pageGlobals, 'navigator', 'self'], 'core/ and sim/ are pure: take it as a parameter, or move the code to the part that runs there.')] },
  },
  {
    files: ['worker/**/*.ts'],
    rules: { 'no-restricted-globals': ['error', ...restrictedGlobals([...nodeGlobals, ...pageGlobals], 'worker/ runs in a Web Worker (and in Node through the same code): no page and no Node globals.')] },
  },
  {
    files: ['web/**/*.ts', 'web/**/*.svelte', 'tools/bench/runtime/page/**/*.ts'],
    rules: { 'no-restricted-globals': ['error', ...restrictedGlobals(nodeGlobals, 'web/ runs in the page: no Node globals.')] },
  },
  // Every throw in source carries a code (core/errors): no bare Error/TypeError/RangeError.
  {
    files: ['core/**/*.ts', 'sim/**/*.ts', 'worker/**/*.ts', 'server/**/*.ts', 'web/**/*.ts', 'tools/**/*.ts', 'bin/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ThrowStatement > NewExpression[callee.name=/^(Error|TypeError|RangeError)$/]',
          message: 'Throw a BouquetError (or a subclass) with a code from core/errors/codes.ts.',
        },
      ],
    },
  },
);
