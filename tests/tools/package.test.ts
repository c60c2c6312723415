// The npm package as a user gets it: `npm pack`'s tarball, installed by npm offline into an empty folder, runs
// `bouquet --version` and `bouquet demo --once --json` on built JS (no tsx), type-checks Node and browser files
// using `bouquet/client`, and ships one wasm build. One heavy test (a build, a pack, a demo): it runs once, in its own file.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../tools/browser/chromium.ts';
import { failInCi } from '../support/netns.ts';

const repo = process.cwd();
const modules = realpathSync(path.join(repo, 'node_modules'));
const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(path.join(tmpdir(), 'bouquet-package-'));
// Each step's wall time, printed at the end (the figures the README's package notes quote).
const stepSeconds: string[] = [];
afterAll(() => {
  const start = performance.now();
  rmSync(work, { recursive: true, force: true });
  stepSeconds.push(`remove the folder ${((performance.now() - start) / 1000).toFixed(1)}`);
  console.info(`package test steps (s): ${stepSeconds.join(', ')}`);
});

function sh(command: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string; ms: number } {
  const start = performance.now();
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 240_000, maxBuffer: 64 << 20, ...options });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) + (r.error !== undefined ? r.error.message : ''), ms: performance.now() - start };
}

function ok(r: { status: number | null; stdout: string; stderr: string; ms: number }, what: string): string {
  stepSeconds.push(`${what.split(' (')[0] ?? what} ${(r.ms / 1000).toFixed(1)}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${String(r.status)}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

describe('the npm package', () => {
  it('installs from its tarball into an empty folder and runs there without tsx', { timeout: 420_000 }, () => {
    // Build and pack a copy of the working tree, so the repository's own dist/ (which other suites serve) is left alone.
    const src = path.join(work, 'src');
    const files = ok(sh('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repo }), 'git ls-files').split('\0').filter((f) => f !== '' && existsSync(path.join(repo, f)));
    for (const f of files) {
      mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
      cpSync(path.join(repo, f), path.join(src, f));
    }
    symlinkSync(modules, path.join(src, 'node_modules'));
    ok(sh('npm', ['run', 'build'], { cwd: src }), 'npm run build');
    // One onnxruntime-web build (the asyncify one that onnxruntime-web/webgpu loads), each precompressed.
    const ort = readdirSync(path.join(src, 'dist', 'web', 'ort')).sort();
    expect(ort).toEqual(['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.mjs.gz', 'ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.wasm.gz']);
    expect(readdirSync(path.join(src, 'dist', 'web', 'assets')).filter((f) => f.endsWith('.wasm'))).toEqual([]);
    ok(sh('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: src }), 'npm pack');
    const tarball = path.join(work, `bouquet-${version}.tgz`);

    // The production dependencies, as the lockfile has them, and no tsx among them.
    const prod = ok(sh('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo }), 'npm ls --omit=dev').split('\n').filter((l) => l.startsWith(path.join(repo, 'node_modules') + path.sep));
    const topLevel = [...new Set(prod.map((p) => path.relative(path.join(repo, 'node_modules'), p)).filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`)))];
    expect(topLevel.some((p) => p === 'tsx' || p.startsWith(`tsx${path.sep}`))).toBe(false);
    expect(topLevel).toContain('playwright-core');

    // The install, without the network (tests send no traffic out): the production dependencies are
    // copied from the project's node_modules into the empty folder and linked there by `npm rebuild`
    // (their bin links, so npm counts them as installed); then npm itself installs the tarball, offline
    // with an empty cache: every dependency is already satisfied, so it fetches nothing.
    // (`npm install --offline` from a cache filled by `npm cache add` fails with ENOTCACHED: resolving
    // a range needs the registry's packument, which `npm cache add` of a tarball does not store.)
    const app = path.join(work, 'app');
    mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'uses-bouquet', version: '1.0.0', private: true, type: 'module' }));
    const copyStart = performance.now();
    for (const dep of topLevel) cpSync(path.join(modules, dep), path.join(app, 'node_modules', dep), { recursive: true, verbatimSymlinks: true });
    stepSeconds.push(`copy the production dependencies ${((performance.now() - copyStart) / 1000).toFixed(1)}`);
    const offline = ['--offline', '--cache', path.join(work, 'empty-npm-cache'), '--no-audit', '--no-fund', '--ignore-scripts'];
    ok(sh('npm', ['rebuild', ...offline], { cwd: app }), 'npm rebuild (bin links of the copied dependencies)');
    ok(sh('npm', ['install', ...offline, tarball], { cwd: app }), 'npm install of the tarball, offline');
    const pkgDir = path.join(app, 'node_modules', 'bouquet');
    expect(existsSync(path.join(pkgDir, 'bin', 'main.ts'))).toBe(false);
    const tree = ok(sh('npm', ['ls', '--omit=dev', '--all'], { cwd: app }), 'npm ls in the install');
    expect(tree).toMatch(new RegExp(`bouquet@${version.replaceAll('.', '\\.')}`));
    expect(tree).not.toMatch(/\btsx@/);

    const bin = path.join(app, 'node_modules', '.bin', 'bouquet');
    expect(ok(sh(bin, ['--version'], { cwd: app }), 'bouquet --version').trim()).toBe(version);

    // A user's TypeScript files against the package's .d.ts (lib check on: the declarations must hold).
    // Under Node (NodeNext: the "node" condition) bouquet/client has the Node swarm client too; a
    // bundler's resolution gets the browser entry, without it. @types/node as a Node user has it; DOM's lib
    // in both, as onnxruntime-web's and idb-keyval's own declarations name ImageData, IDBValidKey, …
    // The browser file skips the lib check (the Node one checked every declaration already).
    for (const dep of ['@types/node', 'undici-types']) cpSync(path.join(modules, dep), path.join(app, 'node_modules', dep), { recursive: true, verbatimSymlinks: true });
    const common = [
      "import { ClientSession, CoordinatorRoutes, CoordinatorClient, isBouquetError, type GenerationResult } from 'bouquet/client';",
      "import { policyCombos } from 'bouquet/core';",
      'export const text = (r: GenerationResult): string => `${r.text} after ${r.failovers.length} failovers`;',
      'export const parts = [ClientSession, CoordinatorRoutes, CoordinatorClient, isBouquetError, policyCombos.bprr.placement];',
      '// @ts-expect-error a name the package does not export must not type-check',
      "import { NoSuchExport } from 'bouquet/client';",
      'export const none = NoSuchExport;',
    ];
    mkdirSync(path.join(app, 'node-user'));
    mkdirSync(path.join(app, 'web-user'));
    writeFileSync(path.join(app, 'node-user', 'use-client.ts'), [
      ...common,
      "import { startNodeClient, startNodeVolunteer, type NodeClient } from 'bouquet/client';",
      "export const chat = async (origin: string): Promise<NodeClient> => startNodeClient({ origin });",
      'export const volunteer = startNodeVolunteer;',
    ].join('\n'));
    writeFileSync(path.join(app, 'web-user', 'use-client.ts'), [
      ...common,
      '// @ts-expect-error the browser entry has no Node client',
      "import { startNodeClient } from 'bouquet/client';",
      'export const nodeOnly = startNodeClient;',
    ].join('\n'));
    const tsc = path.join(modules, 'typescript', 'bin', 'tsc');
    writeFileSync(path.join(app, 'node-user', 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2023', 'DOM'], types: ['node'] }, files: ['use-client.ts'] }));
    writeFileSync(path.join(app, 'web-user', 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: [] }, files: ['use-client.ts'] }));
    ok(sh('node', [tsc, '-p', path.join(app, 'node-user')]), 'tsc on a Node file using bouquet/client');
    ok(sh('node', [tsc, '-p', path.join(app, 'web-user')]), 'tsc on a browser file using bouquet/client');

    // The demo from the install as a fresh user runs it: no --model (no ../shared beside the package,
    // so the tiny random model), tabs in headless Chromium with the package's prebuilt web app, or
    // Node peers where Chromium is missing; pure JSON on stdout.
    const noChromium = failInCi(existsSync(chromiumPath) ? null : `Chromium is not installed at ${chromiumPath}`);
    if (noChromium !== null) console.warn(`package test: ${noChromium}: the demo runs on Node peers`);
    const out = ok(sh(bin, ['demo', '--once', '--json', '--port', '0', '--max-tokens', '8'], { cwd: app, timeout: 200_000 }), 'bouquet demo --once --json');
    const answer = JSON.parse(out) as { text: string; ids: number[]; route: { peerId: string }[]; perTokenMs: number[] };
    expect(answer.ids.length).toBeGreaterThan(0);
    expect(answer.ids.length).toBeLessThanOrEqual(8);
    expect(answer.route.length).toBeGreaterThan(0);
    expect(answer.perTokenMs.every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
  });
});
