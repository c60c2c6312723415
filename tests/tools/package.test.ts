// The npm package as a user gets it: `npm pack`'s tarball installed into an empty folder runs `bouquet --version`
// and `bouquet demo --once --json` on built JS (no tsx), type-checks a file using `bouquet/client`, and ships one wasm build.
// One heavy test (a build, a pack, a demo in Chromium): it runs once, in its own file.
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
const stories260K = path.resolve(repo, '..', 'shared', 'models', 'stories260K');
const work = mkdtempSync(path.join(tmpdir(), 'bouquet-package-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(command: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 240_000, maxBuffer: 64 << 20, ...options });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) + (r.error !== undefined ? r.error.message : '') };
}

function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): string {
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

    // The install: npm's registry is not used (tests send no traffic out), so the tarball is
    // unpacked where npm would put it and the production dependencies copied beside it.
    const app = path.join(work, 'app');
    const pkgDir = path.join(app, 'node_modules', 'bouquet');
    mkdirSync(pkgDir, { recursive: true });
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'uses-bouquet', version: '1.0.0', private: true, type: 'module', dependencies: { bouquet: `^${version}` } }));
    ok(sh('tar', ['xzf', tarball, '-C', pkgDir, '--strip-components=1']), 'tar');
    for (const dep of topLevel) cpSync(path.join(modules, dep), path.join(app, 'node_modules', dep), { recursive: true, verbatimSymlinks: true });
    expect(existsSync(path.join(pkgDir, 'bin', 'main.ts'))).toBe(false);
    const tree = ok(sh('npm', ['ls', '--omit=dev', '--all'], { cwd: app }), 'npm ls in the install');
    expect(tree).not.toMatch(/\btsx@/);

    const bin = path.join(pkgDir, 'bin', 'bouquet.js');
    expect(ok(sh('node', [bin, '--version'], { cwd: app }), 'bouquet --version').trim()).toBe(version);

    // A user's TypeScript file against the package's .d.ts (lib check on: the declarations must hold).
    writeFileSync(path.join(app, 'use-client.ts'), [
      "import { ClientSession, CoordinatorRoutes, CoordinatorClient, isBouquetError, type GenerationResult } from 'bouquet/client';",
      "import { policyCombos } from 'bouquet/core';",
      'export const text = (r: GenerationResult): string => `${r.text} after ${r.failovers.length} failovers`;',
      'export const parts = [ClientSession, CoordinatorRoutes, CoordinatorClient, isBouquetError, policyCombos.bprr.placement];',
      '// @ts-expect-error a name the package does not export must not type-check',
      "import { NoSuchExport } from 'bouquet/client';",
      'export const none = NoSuchExport;',
    ].join('\n'));
    writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2023', 'DOM'], types: [] }, files: ['use-client.ts'] }));
    ok(sh('node', [path.join(modules, 'typescript', 'bin', 'tsc'), '-p', app]), 'tsc on a file using bouquet/client');

    // The demo from the install: tabs in headless Chromium, the package's prebuilt web app, pure JSON on stdout.
    const skip = failInCi(!existsSync(chromiumPath) ? `Chromium is not installed at ${chromiumPath}` : !existsSync(stories260K) ? `no model at ${stories260K}` : null);
    if (skip !== null) {
      console.warn(`package test: bouquet demo not run: ${skip}`);
      return;
    }
    const demo = sh('node', [bin, 'demo', '--once', '--json', '--port', '0', '--max-tokens', '8', '--model', stories260K], { cwd: app, timeout: 200_000 });
    const out = ok(demo, 'bouquet demo --once --json');
    const answer = JSON.parse(out) as { text: string; ids: number[]; route: { peerId: string }[] };
    expect(answer.ids).toHaveLength(8);
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer.route.length).toBeGreaterThan(0);
  });
});
