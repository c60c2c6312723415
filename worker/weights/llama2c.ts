// llama2.c "legacy" checkpoints (the TinyStories models): header + float32 tensors at computable offsets.
import { ModelShapeError, llama2cHeaderBytes, shapeFromLlama2cHeader, type ModelShape } from '../../core/model/index.ts';
import { RuntimeError } from '../errors.ts';
import type { BlockWeights, ByteSource, ModelWeights, WeightPart } from './types.ts';
import { assertFinite, float32Of } from './util.ts';

/** Opens a llama2.c checkpoint: reads the header and checks the file size against it. */
export async function openLlama2cCheckpoint(source: ByteSource): Promise<ModelWeights> {
  const size = await source.size();
  if (size < llama2cHeaderBytes) throw new RuntimeError('bad-weights', `${source.name}: ${size} bytes, too short for a llama2.c header`);
  let shape: ModelShape;
  try {
    shape = shapeFromLlama2cHeader(await source.read(0, llama2cHeaderBytes));
  } catch (e) {
    if (e instanceof ModelShapeError) throw new RuntimeError('bad-weights', `${source.name}: not a llama2.c checkpoint (${e.message})`);
    throw e;
  }
  const layout = llama2cLayout(shape);
  const expected = llama2cHeaderBytes + 4 * layout.totalFloats;
  if (size !== expected) {
    throw new RuntimeError('bad-weights', `${source.name}: the header implies ${expected} bytes but the file has ${size} (${size < expected ? 'truncated' : 'trailing data or wrong header'})`);
  }
  return new Llama2cCheckpoint(shape, source, layout);
}

interface Region {
  /** Offset in floats after the header. */
  at: number;
  /** Floats per layer (or in total for global tensors). */
  per: number;
}

interface Llama2cLayout {
  embedding: Region;
  attnNorm: Region;
  wq: Region;
  wk: Region;
  wv: Region;
  wo: Region;
  ffnNorm: Region;
  w1: Region;
  w2: Region;
  w3: Region;
  finalNorm: Region;
  classifier: Region;
  totalFloats: number;
}

/** Offsets of every tensor, in llama2.c's order (embedding, per-kind stacks over layers, final norm, freq tables, classifier). */
function llama2cLayout(s: ModelShape): Llama2cLayout {
  const d = s.hiddenSize;
  const L = s.numBlocks;
  const hs = s.headDim;
  let at = 0;
  const take = (per: number, times = 1): Region => {
    const r = { at, per };
    at += per * times;
    return r;
  };
  const embedding = take(s.vocabSize * d);
  const attnNorm = take(d, L);
  const wq = take(d * s.numHeads * hs, L);
  const wk = take(d * s.numKvHeads * hs, L);
  const wv = take(d * s.numKvHeads * hs, L);
  const wo = take(s.numHeads * hs * d, L);
  const ffnNorm = take(d, L);
  const w1 = take(d * s.ffnSize, L);
  const w2 = take(s.ffnSize * d, L);
  const w3 = take(d * s.ffnSize, L);
  const finalNorm = take(d);
  take(s.maxSeqLen * hs / 2); // freq_cis_real (unused: rotary is computed)
  take(s.maxSeqLen * hs / 2); // freq_cis_imag
  const classifier = s.tiedEmbeddings ? embedding : take(s.vocabSize * d);
  return { embedding, attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, finalNorm, classifier, totalFloats: at };
}

class Llama2cCheckpoint implements ModelWeights {
  constructor(
    readonly shape: ModelShape,
    private readonly source: ByteSource,
    private readonly layout: Llama2cLayout,
  ) {}

  private async floats(r: Region, layer: number, what: string): Promise<Float32Array> {
    const bytes = await this.source.read(llama2cHeaderBytes + 4 * (r.at + r.per * layer), 4 * r.per);
    const data = float32Of(bytes);
    assertFinite(data, `${this.source.name}: ${what}`);
    return data;
  }

  async block(i: number): Promise<BlockWeights> {
    if (!Number.isInteger(i) || i < 0 || i >= this.shape.numBlocks) throw new RuntimeError('bad-input', `block ${i} is outside [0, ${this.shape.numBlocks})`);
    const l = this.layout;
    return {
      attnNorm: await this.floats(l.attnNorm, i, `rms_att_weight[${i}]`),
      wq: await this.floats(l.wq, i, `wq[${i}]`),
      wk: await this.floats(l.wk, i, `wk[${i}]`),
      wv: await this.floats(l.wv, i, `wv[${i}]`),
      wo: await this.floats(l.wo, i, `wo[${i}]`),
      ffnNorm: await this.floats(l.ffnNorm, i, `rms_ffn_weight[${i}]`),
      wGate: await this.floats(l.w1, i, `w1[${i}]`),
      wDown: await this.floats(l.w2, i, `w2[${i}]`),
      wUp: await this.floats(l.w3, i, `w3[${i}]`),
    };
  }

  embedding(): Promise<Float32Array> {
    return this.floats(this.layout.embedding, 0, 'token_embedding_table');
  }

  finalNorm(): Promise<Float32Array> {
    return this.floats(this.layout.finalNorm, 0, 'rms_final_weight');
  }

  lmHead(): Promise<Float32Array> {
    return this.floats(this.layout.classifier, 0, 'wcls');
  }

  storedBytes(part: WeightPart): number {
    const l = this.layout;
    switch (part.kind) {
      case 'block': {
        const i = part.index;
        if (!Number.isInteger(i) || i < 0 || i >= this.shape.numBlocks) throw new RuntimeError('bad-input', `block ${i} is outside [0, ${this.shape.numBlocks})`);
        return 4 * [l.attnNorm, l.wq, l.wk, l.wv, l.wo, l.ffnNorm, l.w1, l.w2, l.w3].reduce((sum, r) => sum + r.per, 0);
      }
      case 'embedding':
        return 4 * l.embedding.per;
      case 'finalNorm':
        return 4 * l.finalNorm.per;
      case 'lmHead':
        return 4 * l.classifier.per;
      default: {
        const never: never = part;
        throw new RuntimeError('bad-input', `unknown weight part ${JSON.stringify(never)}`);
      }
    }
  }
}
