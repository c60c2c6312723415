// A Node volunteer on WebGPU through Dawn (`bouquet volunteer --backend webgpu`, SwiftShader's Vulkan ICD: no GPU needed)
// serves every block of stories260K; `bouquet chat` prints `bouquet generate`'s greedy ids; the coordinator lists it on
// webgpu with a measured speed; on SIGTERM it leaves and the process exits.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReference, repoRoot, servingAll, startBouquet, stopBouquet, stories260K, until, type BouquetProcess } from '../../e2e/swarm-support.ts';
import { swiftShaderIcd, swiftShaderUnavailableReason } from '../../support/swiftshader.ts';

const bouquet = path.join(repoRoot, 'bin', 'bouquet.js');
const prompt = 'Once upon a time';
const maxTokens = 16;

function missingReason(): string | null {
  try {
    createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return "Dawn's webgpu package (an optional dependency) is not installed";
  }
  // The suite plan fails CI for a missing ICD or Vulkan loader wherever Chromium is installed (tests/support/suite-plan.ts).
  return swiftShaderUnavailableReason();
}
const skip = missingReason();

interface SwarmStateLite {
  volunteers: { peerId: string; state: string; backend: string; decodeMsPerBlock: number; span: { start: number; end: number } | null }[];
  placement: { uncoveredBlocks: number[] };
}

describe.skipIf(skip !== null)(`a Node volunteer on WebGPU (Dawn + SwiftShader)${skip !== null ? ` — skipped: ${skip}` : ''}`, () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'bouquet-webgpu-volunteer-'));
  let serve: BouquetProcess | undefined;
  let volunteer: BouquetProcess | undefined;
  let url = '';
  const state = async (): Promise<SwarmStateLite> => (await (await fetch(`${url}/api/swarm`)).json()) as SwarmStateLite;

  beforeAll(async () => {
    serve = startBouquet(['serve', '--port', '0', '--model', stories260K, '--max-session-tokens', '64', '--state-dir', path.join(stateDir, 'server'), '--log-level', 'warn']);
    const s = serve;
    await until('bouquet serve to listen', () => Promise.resolve(/listening on (http:\/\/127\.0\.0\.1:\d+)/.test(s.log())), 30_000);
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(s.log())?.[1] ?? '';
    // 4 MiB: every block (5 × 178 KiB) and its sessions, so the whole chain runs on WebGPU.
    volunteer = startBouquet(['volunteer', '--server', url, '--backend', 'webgpu', '--memory-mb', '4', '--state-dir', path.join(stateDir, 'v'), '--drain-ms', '0'],
      { VK_ICD_FILENAMES: swiftShaderIcd, XDG_RUNTIME_DIR: stateDir });
    await until('the WebGPU volunteer to serve every block', async () => servingAll(await state(), 1), 150_000);
  }, 200_000);

  afterAll(async () => {
    if (volunteer !== undefined) await stopBouquet(volunteer, 'SIGTERM', 5000);
    if (serve !== undefined) await stopBouquet(serve);
    rmSync(stateDir, { recursive: true, force: true });
  }, 30_000);

  it('registers on webgpu with a measured speed and says why in its log', async () => {
    const v = (await state()).volunteers[0];
    expect(v?.backend).toBe('webgpu');
    expect(v?.span).toEqual({ start: 0, end: 5 });
    expect(v?.decodeMsPerBlock).toBeGreaterThan(0);
    expect(volunteer?.log()).toMatch(/serving stories260K on webgpu/);
    expect(volunteer?.log()).toMatch(/backend: webgpu \(asked for\) on .*swiftshader.*software adapter/i);
  });

  it("gives bouquet generate's greedy ids (wasm, one process) through its WebGPU blocks", () => {
    const r = spawnSync(process.execPath, [bouquet, 'chat', '--server', url, '--prompt', prompt, '--max-tokens', String(maxTokens), '--temperature', '0', '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 150_000 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { text: string; ids: number[]; route: { span: { start: number; end: number } }[] };
    const reference = generateReference(prompt, maxTokens);
    expect(result.ids).toEqual(reference.ids);
    expect(result.text).toBe(reference.text);
    expect(result.route.map((h) => h.span)).toEqual([{ start: 0, end: 5 }]);
  }, 200_000);

  it('leaves on SIGTERM and its process exits (Dawn would hold it while the device lives)', async () => {
    if (volunteer === undefined) throw new Error('no volunteer process');
    expect(await stopBouquet(volunteer, 'SIGTERM', 20_000)).toBe(0);
    await until('the coordinator to drop it', async () => (await state()).volunteers.length === 0, 20_000);
  }, 60_000);
});
