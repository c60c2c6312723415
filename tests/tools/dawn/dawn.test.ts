// The Node backend rule through Dawn's `webgpu` package: `auto` takes only a real adapter, `webgpu` any adapter (SwiftShader
// here, from Chromium's Vulkan ICD), and a missing package or adapter is backend-unavailable; `bouquet volunteer` says so.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { swiftShaderIcd, swiftShaderUnavailableReason } from '../../support/swiftshader.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const child = path.join(import.meta.dirname, 'decide-child.ts');
const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');
// What a machine without the optional dependency gives `import('webgpu')`: the override points at a file that is not there.
const noPackage = { BOUQUET_WEBGPU_MODULE: path.join(repoRoot, 'no-such-dir', 'webgpu.js') };
// A machine with no Vulkan driver: the loader is told of one ICD file only, which is not there.
const noAdapter = { VK_ICD_FILENAMES: path.join(repoRoot, 'no-such-dir', 'icd.json') };
const swiftShader = { VK_ICD_FILENAMES: swiftShaderIcd, XDG_RUNTIME_DIR: '/tmp' };

function packageMissing(): string | null {
  try {
    createRequire(import.meta.url).resolve('webgpu');
    return null;
  } catch {
    return "Dawn's webgpu package (an optional dependency) is not installed";
  }
}
// Skipped only where the part it needs is absent (the suite plan fails CI for a missing ICD or loader when Chromium is installed).
const skipSwiftShader = packageMissing() ?? swiftShaderUnavailableReason();

interface Answer { backend?: string; reason?: string; software?: boolean | null; code?: string; message?: string }

function decide(choice: string, env: Record<string, string>): Answer {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, choice], { cwd: repoRoot, encoding: 'utf8', timeout: 90_000, env: { ...process.env, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Answer;
}

describe('the Node backend rule (Dawn)', () => {
  it.skipIf(skipSwiftShader !== null)(`auto passes over a software adapter; webgpu takes it (${skipSwiftShader ?? 'SwiftShader'})`, () => {
    const auto = decide('auto', swiftShader);
    expect(auto.backend).toBe('wasm');
    expect(auto.software).toBe(true);
    expect(auto.reason).toMatch(/software/);
    const forced = decide('webgpu', swiftShader);
    expect(forced.backend).toBe('webgpu');
    expect(forced.software).toBe(true);
    expect(forced.reason).toMatch(/swiftshader/i);
  }, 120_000);

  it('without the package: webgpu is backend-unavailable naming it, auto is wasm saying why', () => {
    const forced = decide('webgpu', noPackage);
    expect(forced.code).toBe('backend-unavailable');
    expect(forced.message).toMatch(/webgpu. package/);
    const auto = decide('auto', noPackage);
    expect(auto.backend).toBe('wasm');
    expect(auto.reason).toMatch(/could not be loaded/);
  }, 120_000);

  it.skipIf(packageMissing() !== null)('without an adapter: webgpu is backend-unavailable, auto is wasm', () => {
    const forced = decide('webgpu', noAdapter);
    expect(forced.code).toBe('backend-unavailable');
    expect(forced.message).toMatch(/no WebGPU adapter/);
    expect(decide('auto', noAdapter).backend).toBe('wasm');
  }, 120_000);

  it.each([['package', noPackage], ['adapter', noAdapter]] as const)('bouquet volunteer --backend webgpu with no %s exits 2 naming backend-unavailable', (_what, env) => {
    const r = spawnSync(process.execPath, [bouquet, 'volunteer', '--server', 'http://127.0.0.1:9', '--backend', 'webgpu'], { cwd: repoRoot, encoding: 'utf8', timeout: 90_000, env: { ...process.env, ...env } });
    expect(r.status).toBe(2);
    // The verb's one line is the last; before it, the Vulkan loader may print its own warnings (no driver found).
    const last = r.stderr.trim().split('\n').pop() ?? '';
    expect(last).toMatch(/^bouquet volunteer: --backend webgpu: /);
    expect(last).toContain('[backend-unavailable]');
  }, 120_000);
});
