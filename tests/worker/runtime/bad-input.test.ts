// Bad input gives a RuntimeError with a code, never a silent wrong answer: weights, configs, steps, sessions.
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { createInThreadRuntime, RuntimeError, type RuntimeErrorCode } from '../../../worker/index.ts';
import { folderModelFiles, resolveModel } from '../../../server/models/index.ts';
import { openModelWeights } from '../../../worker/weights/index.ts';
import { writeTinyModel } from '../support/tiny-model.ts';

const stories = '../shared/models/stories260K';

async function codeOf(p: Promise<unknown>): Promise<RuntimeErrorCode | `not a RuntimeError: ${string}` | 'no error'> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RuntimeError) return e.code;
    return `not a RuntimeError: ${String(e)}`;
  }
  return 'no error';
}

/** Opens the model and reads every tensor (what loading a full runtime does). */
async function loadAll(dir: string): Promise<void> {
  const w = await openModelWeights(folderModelFiles(dir));
  for (let b = 0; b < w.shape.numBlocks; b++) await w.block(b);
  await w.embedding();
  await w.finalNorm();
  await w.lmHead();
}

describe('bad weights', () => {
  it('a truncated safetensors file', async () => {
    const dir = await writeTinyModel({}, { bytes: (b) => b.subarray(0, b.length - 100) });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a safetensors file cut inside its header', async () => {
    const dir = await writeTinyModel({}, { bytes: (b) => b.subarray(0, 40) });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a corrupt header (not JSON)', async () => {
    const dir = await writeTinyModel({}, { bytes: (b) => { const c = b.slice(); c[12] = 0x7b; c[13] = 0x7b; return c; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('corrupt tensor data (NaN bytes)', async () => {
    const dir = await writeTinyModel({}, { bytes: (b) => { const c = b.slice(); c.fill(0xff, c.length - 64); return c; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a config that does not match the tensors (intermediate size)', async () => {
    const dir = await writeTinyModel({}, { config: (j) => { j.intermediate_size = 100; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a config with more layers than the file holds', async () => {
    const dir = await writeTinyModel({}, { config: (j) => { j.num_hidden_layers = 4; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a tensor of the wrong shape', async () => {
    const dir = await writeTinyModel({}, { tensors: (t) => { const x = t['model.layers.1.self_attn.k_proj.weight']; if (x) x.shape = [16, 128]; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a tensor of an unsupported dtype (I64)', async () => {
    const dir = await writeTinyModel({}, { tensors: (t) => { const x = t['model.layers.0.self_attn.q_proj.weight']; if (x) x.dtype = 'I64'; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('an unsupported architecture in config.json', async () => {
    const dir = await writeTinyModel({}, { config: (j) => { j.model_type = 'gpt2'; } });
    expect(await codeOf(loadAll(dir))).toBe('bad-model');
  });

  it('a truncated llama2.c checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bouquet-l2c-'));
    const bytes = await readFile(join(stories, 'stories260K.bin'));
    await writeFile(join(dir, 'model.bin'), bytes.subarray(0, bytes.length - 4096));
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a llama2.c file with a garbage header', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bouquet-l2c-'));
    const bytes = new Uint8Array(await readFile(join(stories, 'stories260K.bin')));
    bytes.fill(0xff, 0, 8);
    await writeFile(join(dir, 'model.bin'), bytes);
    await copyFile(join(stories, 'tok512.bin'), join(dir, 'tok512.bin'));
    expect(await codeOf(loadAll(dir))).toBe('bad-weights');
  });

  it('a missing model folder, and hf: while offline', async () => {
    expect(await codeOf(resolveModel('/nonexistent/model'))).toBe('bad-model');
    const offline: typeof fetch = () => Promise.reject(new TypeError('fetch failed (test: no network)'));
    const cacheDir = await mkdtemp(join(tmpdir(), 'bouquet-hf-'));
    expect(await codeOf(resolveModel('hf:someone/some-model', { cacheDir, fetchFn: offline }))).toBe('offline');
  });
});

describe('bad steps and sessions', async () => {
  const w = await openModelWeights(folderModelFiles(stories));
  const d = w.shape.hiddenSize;
  const slotBytes = 2 * 4 * 8 * 32 * 4; // kvHeads · headDim · 32 tokens · fp32, keys and values
  const rt = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, client: true, backends: ['wasm'], threads: 1, maxSessionTokens: 32, cacheBudgetBytes: 7 * slotBytes });

  it('accounts cache in slots and refuses a session with cache-full', async () => {
    const u0 = await rt.cacheUsage();
    expect(u0.slotBytes).toBe(slotBytes);
    expect(u0.totalSlots).toBe(7);
    await rt.openSession({ sessionId: 'a', blocks: { start: 0, end: 5 }, maxLength: 32 });
    expect(await codeOf(rt.openSession({ sessionId: 'b', blocks: { start: 0, end: 3 }, maxLength: 32 }))).toBe('cache-full');
    // Declared 16 tokens: one token block per block, half a slot each.
    await rt.openSession({ sessionId: 'c', blocks: { start: 3, end: 5 }, maxLength: 16 });
    const u = await rt.cacheUsage();
    expect([u.usedSlots, u.freeSlots, u.reservedBytes, u.openSessions]).toEqual([6, 1, 6 * slotBytes, 2]);
    await rt.step('a', new Float32Array(3 * d).fill(0.1));
    expect((await rt.cacheUsage()).filledBytes).toBe(5 * 2 * 4 * 8 * 3 * 4);
    await rt.closeSession('a');
    await rt.closeSession('c');
    expect((await rt.cacheUsage()).usedSlots).toBe(0);
  });

  it('reserves each session its declared length in whole 16-token blocks, and admits while they fit', async () => {
    const tokenBlockBytes = 2 * 4 * 8 * 16 * 4; // kvHeads · headDim · 16 tokens · fp32, keys and values
    const tight = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, backends: ['wasm'], threads: 1, maxSessionTokens: 40, cacheBudgetBytes: 10 * tokenBlockBytes + 100 });
    try {
      const u0 = await tight.cacheUsage();
      expect([u0.tokenBlockBytes, u0.totalTokenBlocks, u0.totalSlots, u0.slotBytes]).toEqual([tokenBlockBytes, 10, 3, 3 * tokenBlockBytes]);
      // B = 10 token blocks; declarations of 8, 40 (over 2 blocks) and 33 tokens take 1 + 6 + 3 = 10.
      expect((await tight.openSession({ sessionId: 'one', blocks: { start: 0, end: 1 }, maxLength: 8 })).cacheTokenBlocks).toBe(1);
      expect((await tight.openSession({ sessionId: 'two', blocks: { start: 1, end: 3 }, maxLength: 40 })).cacheTokenBlocks).toBe(6);
      expect((await tight.openSession({ sessionId: 'three', blocks: { start: 4, end: 5 }, maxLength: 33 })).cacheTokenBlocks).toBe(3);
      expect(await codeOf(tight.openSession({ sessionId: 'four', blocks: { start: 4, end: 5 }, maxLength: 1 }))).toBe('cache-full');
      const u = await tight.cacheUsage();
      expect([u.usedTokenBlocks, u.freeTokenBlocks, u.freeSlots, u.openSessions, u.reservedBytes]).toEqual([10, 0, 0, 3, 10 * tokenBlockBytes]);
      await tight.closeSession('one');
      expect((await tight.openSession({ sessionId: 'four', blocks: { start: 4, end: 5 }, maxLength: 1 })).cacheTokenBlocks).toBe(1);
    } finally {
      await tight.dispose();
    }
  });

  it('holds cached keys and values that grow with the tokens up to the declared length, never past the reservation', async () => {
    const perTokenBytes = 2 * 4 * 8 * 4; // keys and values of one token of one block, fp32
    const grow = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 5 }, backends: ['wasm'], threads: 1, maxSessionTokens: 64, cacheBudgetBytes: 1e7 });
    try {
      const filledBy = async (declared: number): Promise<{ reservedBytes: number; filledBytes: number; atHalf: number }> => {
        await grow.openSession({ sessionId: `s${declared}`, blocks: { start: 0, end: 1 }, maxLength: declared });
        const reservedBytes = (await grow.cacheUsage()).reservedBytes;
        await grow.step(`s${declared}`, new Float32Array((declared / 2) * d).fill(0.1));
        const atHalf = (await grow.cacheUsage()).filledBytes;
        for (let t = declared / 2; t < declared; t++) await grow.step(`s${declared}`, new Float32Array(d).fill(0.1));
        const filledBytes = (await grow.cacheUsage()).filledBytes;
        expect(await codeOf(grow.step(`s${declared}`, new Float32Array(d).fill(0.1)))).toBe('sequence-too-long');
        await grow.closeSession(`s${declared}`);
        return { reservedBytes, filledBytes, atHalf };
      };
      const short = await filledBy(16);
      const long = await filledBy(64);
      expect([short.atHalf, short.filledBytes, short.reservedBytes]).toEqual([8 * perTokenBytes, 16 * perTokenBytes, 16 * perTokenBytes]);
      expect([long.atHalf, long.filledBytes, long.reservedBytes]).toEqual([32 * perTokenBytes, 64 * perTokenBytes, 64 * perTokenBytes]);
      expect((await grow.cacheUsage()).filledBytes).toBe(0);
    } finally {
      await grow.dispose();
    }
  });

  it('refuses a step past the session max length (sequence-too-long) and keeps the session usable', async () => {
    await rt.openSession({ sessionId: 'len', blocks: { start: 0, end: 5 }, maxLength: 4 });
    await rt.step('len', new Float32Array(3 * d).fill(0.1));
    expect(await codeOf(rt.step('len', new Float32Array(2 * d).fill(0.1)))).toBe('sequence-too-long');
    const ok = await rt.step('len', new Float32Array(d).fill(0.1));
    expect(ok.length).toBe(4);
    await rt.closeSession('len');
    expect(await codeOf(rt.openSession({ sessionId: 'big', blocks: { start: 0, end: 5 }, maxLength: 33 }))).toBe('sequence-too-long');
  });

  // NaN/Inf in hidden states are refused where activations enter, once: decodeFrame ('bad-frame',
  // tests/core/protocol/frames.test.ts) and SessionHost (tests/web/volunteer/session-host.test.ts).
  // The runtime trusts values and asserts shapes only.
  it('refuses partial rows, empty input, wrong types', async () => {
    await rt.openSession({ sessionId: 'x', blocks: { start: 1, end: 4 }, maxLength: 32 });
    expect(await codeOf(rt.step('x', new Float32Array(d + 1)))).toBe('bad-input');
    expect(await codeOf(rt.step('x', new Float32Array(0)))).toBe('bad-input');
    expect(await codeOf(rt.step('x', new Float64Array(d) as unknown as Float32Array))).toBe('bad-input');
    // Nothing was cached by the refused steps.
    expect((await rt.step('x', new Float32Array(d).fill(0.1))).length).toBe(1);
    await rt.closeSession('x');
  });

  it('refuses unknown sessions, duplicate ids, spans outside the served blocks, bad token ids', async () => {
    expect(await codeOf(rt.step('nope', new Float32Array(d)))).toBe('unknown-session');
    expect(await codeOf(rt.closeSession('nope'))).toBe('unknown-session');
    await rt.openSession({ sessionId: 'dup', blocks: { start: 0, end: 1 }, maxLength: 8 });
    expect(await codeOf(rt.openSession({ sessionId: 'dup', blocks: { start: 0, end: 1 }, maxLength: 8 }))).toBe('session-exists');
    await rt.closeSession('dup');
    expect(await codeOf(rt.openSession({ sessionId: 'out', blocks: { start: 3, end: 6 }, maxLength: 8 }))).toBe('bad-input');
    expect(await codeOf(rt.openSession({ sessionId: 'out', blocks: { start: 2, end: 2 }, maxLength: 8 }))).toBe('bad-input');
    expect(await codeOf(rt.embed(Int32Array.from([1, 512])))).toBe('bad-input');
    expect(await codeOf(rt.embed(Int32Array.from([-1])))).toBe('bad-input');
    expect(await codeOf(rt.head(new Float32Array(d - 1)))).toBe('bad-input');
  });

  it('a client-only runtime has no blocks; a block runtime without client parts has no head', async () => {
    const client = await createInThreadRuntime(ort, w, { client: true, backends: ['wasm'], threads: 1, maxSessionTokens: 32 });
    expect(await codeOf(client.openSession({ sessionId: 's', blocks: { start: 0, end: 1 }, maxLength: 8 }))).toBe('not-loaded');
    const blocks = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 1 }, backends: ['wasm'], threads: 1, maxSessionTokens: 32 });
    expect(await codeOf(blocks.head(new Float32Array(d)))).toBe('not-loaded');
    await client.dispose();
    await blocks.dispose();
  });

  it('reports every backend failure when none starts', async () => {
    const e = await createInThreadRuntime(ort, w, { blocks: { start: 0, end: 1 }, backends: ['webgpu'], threads: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RuntimeError);
    expect((e as RuntimeError).code).toBe('backend-unavailable');
    expect((e as RuntimeError).message).toContain('webgpu');
  });
});
