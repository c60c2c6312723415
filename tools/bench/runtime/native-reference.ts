// The native reference: llama2.c's run.c (a copy the person running the bench points at, compiled at bench time, never committed) on a one-block checkpoint of the synthetic weights.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ModelShape } from '../../../core/model/index.ts';
import { syntheticWeights } from '../../../worker/index.ts';

const exec = promisify(execFile);
/** A tiny vocabulary: the classifier then costs < 1 % of a block, so run.c's time per token is its time per block. */
const vocab = 256;
const seqLen = 64;

/**
 * run.c source: `path` if given, else $BOUQUET_RUN_C; `missing` (with the reason) when neither is set.
 * The bench downloads nothing: these machines reach no host but the package registries.
 */
export async function runCSource(path?: string): Promise<{ source: string } | { missing: string }> {
  const local = path ?? process.env.BOUQUET_RUN_C;
  if (local === undefined || local === '') return { missing: "no run.c given: pass --run-c <path to llama2.c's run.c> or set BOUQUET_RUN_C" };
  if (!existsSync(local)) return { missing: `${local} does not exist` };
  return { source: await readFile(local, 'utf8') };
}

/** Writes a llama2.c v0 checkpoint with block 0 of syntheticWeights(shape, seed), unshared classifier (row 1 = BOS zeroed), and a byte tokenizer. */
async function writeCheckpoint(dir: string, shape: ModelShape, seed: number): Promise<{ model: string; tokenizer: string }> {
  const w = syntheticWeights(shape, seed);
  const b = await w.block(0);
  const d = shape.hiddenSize;
  const model = join(dir, 'block.bin');
  const fh = await open(model, 'w');
  const put = async (a: Float32Array): Promise<void> => {
    await fh.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  };
  try {
    // dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: unshared classifier), seq_len
    await fh.write(new Uint8Array(Int32Array.from([d, shape.ffnSize, 1, shape.numHeads, shape.numKvHeads, -vocab, seqLen]).buffer));
    const small = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s) * 0.1);
    await put(small(vocab * d, 1));
    await put(b.attnNorm);
    await put(b.wq);
    await put(b.wk);
    await put(b.wv);
    await put(b.wo);
    await put(b.ffnNorm);
    await put(b.wGate);
    await put(b.wDown);
    await put(b.wUp);
    await put(new Float32Array(d).fill(1));
    await put(new Float32Array(seqLen * (d / shape.numHeads))); // unused rotary tables of the v0 format
    const cls = small(vocab * d, 2);
    cls.fill(0, d, 2 * d); // BOS ends run.c's loop: keep it from being the most likely token
    await put(cls);
  } finally {
    await fh.close();
  }
  const tok: Uint8Array[] = [new Uint8Array(Int32Array.from([4]).buffer)];
  for (let i = 0; i < vocab; i++) {
    const piece = new TextEncoder().encode(`t${i}`);
    tok.push(new Uint8Array(Float32Array.from([0]).buffer), new Uint8Array(Int32Array.from([piece.length]).buffer), piece);
  }
  const tokenizer = join(dir, 'tok.bin');
  await writeFile(tokenizer, Buffer.concat(tok));
  return { model, tokenizer };
}

/** Decode ms per block of run.c (gcc -Ofast -march=native, one thread) for `shape`, or why it could not run. */
export async function nativeMsPerBlock(source: string, shape: ModelShape, seed: number): Promise<{ msPerBlock: number; compiler: string } | { missing: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bouquet-runc-'));
  try {
    await writeFile(join(dir, 'run.c'), source);
    let compiler = '';
    for (const cc of [process.env.CC, 'gcc', 'cc', 'clang'].filter((c): c is string => c !== undefined && c !== '')) {
      try {
        await exec(cc, ['-Ofast', '-march=native', '-o', join(dir, 'run'), join(dir, 'run.c'), '-lm'], { timeout: 120_000 });
        compiler = `${cc} -Ofast -march=native`;
        break;
      } catch {
        // try the next compiler
      }
    }
    if (compiler === '') return { missing: 'no C compiler (gcc, cc, clang) could build run.c' };
    const { model, tokenizer } = await writeCheckpoint(dir, shape, seed);
    const { stderr } = await exec(join(dir, 'run'), [model, '-z', tokenizer, '-t', '0', '-n', String(seqLen), '-i', ''], { timeout: 600_000, maxBuffer: 1 << 20 });
    const tokPerS = Number(/achieved tok\/s: ([\d.]+)/.exec(stderr)?.[1]);
    if (!Number.isFinite(tokPerS) || tokPerS <= 0) return { missing: `run.c printed no speed: ${stderr.slice(0, 200)}` };
    return { msPerBlock: 1000 / tokPerS, compiler };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
