// A tiny random llama2.c model (checkpoint + byte-level tokenizer) for `bouquet demo` on a machine without a model: its text is noise.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Shape of the generated model: 6 blocks so that several volunteers share them. */
const shape = { dim: 64, hiddenDim: 128, layers: 6, heads: 4, kvHeads: 4, seqLen: 512 };

// Deterministic uniform numbers in [-1, 1): the same model on every machine.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** The tokenizer's pieces: <unk>, <s>, </s>, the 256 byte tokens, then printable ASCII. */
function pieces(): string[] {
  const out = ['<unk>', '<s>', '</s>'];
  for (let b = 0; b < 256; b++) out.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  for (let c = 32; c < 127; c++) out.push(c === 32 ? '▁' : String.fromCharCode(c));
  return out;
}

/**
 * Writes `model.bin` (llama2.c layout, random fp32 weights, shared classifier) and `tokenizer.bin`
 * into `dir`; answers `dir`.
 */
export function writeTinyModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const vocab = pieces();
  const { dim, hiddenDim, layers, heads, kvHeads, seqLen } = shape;
  const headSize = dim / heads;
  const kvDim = (dim * kvHeads) / heads;
  const counts = [
    vocab.length * dim, layers * dim, layers * dim * dim, layers * dim * kvDim, layers * dim * kvDim, layers * dim * dim,
    layers * dim, layers * hiddenDim * dim, layers * dim * hiddenDim, layers * hiddenDim * dim, dim, seqLen * headSize / 2, seqLen * headSize / 2,
  ];
  const norms = new Set([1, 6, 10]);
  const r = random(7);
  const weights = new Float32Array(counts.reduce((a, b) => a + b, 0));
  let at = 0;
  counts.forEach((n, i) => {
    for (let k = 0; k < n; k++) weights[at + k] = norms.has(i) ? 1 : r() * (i === 0 ? 1 : 0.2);
    at += n;
  });
  const header = new Int32Array([dim, hiddenDim, layers, heads, kvHeads, vocab.length, seqLen]);
  writeFileSync(path.join(dir, 'model.bin'), Buffer.concat([Buffer.from(header.buffer), Buffer.from(weights.buffer)]));
  const parts: Buffer[] = [Buffer.from(new Int32Array([Math.max(...vocab.map((p) => Buffer.byteLength(p)))]).buffer)];
  for (const p of vocab) {
    const bytes = Buffer.from(p, 'utf8');
    const head = Buffer.alloc(8);
    head.writeFloatLE(0, 0);
    head.writeInt32LE(bytes.length, 4);
    parts.push(head, bytes);
  }
  writeFileSync(path.join(dir, 'tokenizer.bin'), Buffer.concat(parts));
  return dir;
}
