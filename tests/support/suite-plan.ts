// What this machine can run of the suite: test files that read ../shared/models are left out where it is absent, and
// one line names everything missing (models, browsers, coturn, root for namespaces); under CI=true a missing part fails.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromiumPath } from '../../tools/browser/chromium.ts';
import { delayUnavailableReason } from '../../tools/netem/delay.ts';
import { turnserverPath } from './coturn.ts';
import { swiftShaderUnavailableReason } from './swiftshader.ts';
import { netnsUnavailableReason } from './netns.ts';

// A test reads the shared models when it names their folder, imports the stories260K path, or drives a swarm
// through the e2e helpers (their default model is stories260K).
const needsModels = [/'shared',\s*'models'/, /shared\/models/, /'\.\.', 'shared'/, /import\s*\{[^}]*\bstories260K\b[^}]*\}\s*from/s, /from '\.\/(swarm|ui)-support\.ts'/];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The test files to leave out here (repository-relative) and the one line saying what this machine lacks, or null. */
export function suitePlan(repoRoot: string, env: NodeJS.ProcessEnv = process.env): { exclude: string[]; note: string | null } {
  const models = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K');
  const missing: string[] = [];
  let exclude: string[] = [];
  if (!existsSync(models)) {
    const reads = (file: string): boolean => existsSync(file) && needsModels.some((p) => p.test(readFileSync(file, 'utf8')));
    // The file itself, or a test helper it imports (tests/server/helpers.ts serves stories260K by default).
    const helpers = (file: string): string[] =>
      [...readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+\.ts)'/g)].map((m) => path.resolve(path.dirname(file), m[1] ?? '')).filter((f) => f.startsWith(path.join(repoRoot, 'tests')));
    exclude = testFiles(path.join(repoRoot, 'tests'))
      .filter((f) => reads(f) || helpers(f).some(reads))
      .map((f) => path.relative(repoRoot, f).split(path.sep).join('/'));
    missing.push(`no ${models} (${exclude.length} test files that read it left out)`);
  }
  // The same paths the suites check (tools/browser/chromium.ts, tests/e2e/firefox-namespace.ts, tests/support/coturn.ts).
  if (!existsSync(chromiumPath)) missing.push(`no Chromium (${chromiumPath})`);
  // Node's WebGPU tests run Dawn on the SwiftShader ICD that Debian's chromium ships, through the Vulkan loader:
  // either missing beside an installed Chromium is a fault.
  else {
    const swiftShader = swiftShaderUnavailableReason(env);
    if (swiftShader !== null) missing.push(`${swiftShader} beside Chromium`);
  }
  const firefox = env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
  if (!existsSync(firefox)) missing.push(`no Firefox ESR (${firefox})`);
  if (!existsSync(turnserverPath)) missing.push('no coturn');
  if (env.CI === 'true' && missing.length > 0) throw new Error(`CI must run every suite, but this machine has ${missing.join(', ')} (the models come from ../shared; .ci/run installs the packages)`);
  const netns = netnsUnavailableReason();
  if (netns !== null) missing.push(netns);
  else {
    const delay = delayUnavailableReason();
    if (delay !== null) missing.push(delay);
  }
  if (missing.length === 0) return { exclude, note: null };
  return { exclude, note: `bouquet tests: ${missing.join('; ')}: the suites that need them skip here (CI=true fails instead; .ci/run installs chromium libvulkan1 firefox-esr coturn iptables gcc)` };
}
