// llama2.c's tokenizer.bin: sentencepiece-style vocabulary with merge scores, encoded and decoded as run.c does.
import { RuntimeError } from '../errors.ts';
import type { StreamDecoder, TextTokenizer } from './types.ts';

/** Parses tokenizer.bin (int32 max token length, then per token: float32 score, int32 length, bytes). */
export function parseLlama2cTokenizer(bytes: Uint8Array, vocabSize: number, what = 'tokenizer.bin'): Llama2cTokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let at = 4;
  if (bytes.byteLength < 4) throw new RuntimeError('bad-model', `${what}: too short`);
  for (let i = 0; i < vocabSize; i++) {
    if (at + 8 > bytes.byteLength) throw new RuntimeError('bad-model', `${what}: ends after ${i} of ${vocabSize} tokens (truncated, or a tokenizer for another vocabulary)`);
    scores.push(view.getFloat32(at, true));
    const len = view.getInt32(at + 4, true);
    at += 8;
    if (len < 0 || at + len > bytes.byteLength) throw new RuntimeError('bad-model', `${what}: token ${i} has a bad length ${len}`);
    pieces.push(bytes.slice(at, at + len));
    at += len;
  }
  return new Llama2cTokenizer(pieces, scores);
}

const byteToken = /^<0x([0-9A-Fa-f]{2})>$/;

/** The llama2.c tokenizer (BOS 1, EOS 2, byte fallback at ids 3..258). */
export class Llama2cTokenizer implements TextTokenizer {
  readonly bosId = 1;
  readonly eosIds = [2];
  private readonly lookup = new Map<string, number>();
  private readonly latin1: string[];

  constructor(private readonly pieces: Uint8Array[], private readonly scores: number[]) {
    // Keys are byte strings (latin1) so that any byte sequence has a key.
    this.latin1 = pieces.map((p) => String.fromCharCode(...p));
    this.latin1.forEach((k, i) => {
      if (!this.lookup.has(k)) this.lookup.set(k, i);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if (opts.bos !== false) tokens.push(this.bosId);
    if (text === '') return tokens;
    const bytes = new TextEncoder().encode(text);
    const dummy = this.lookup.get(' ');
    if (dummy !== undefined) tokens.push(dummy);
    // One token per UTF-8 character when the vocabulary has it, else its bytes (+3: byte fallback ids).
    for (let i = 0; i < bytes.length;) {
      let len = 1;
      const b = bytes[i] ?? 0;
      if (b >= 0xf0) len = 4;
      else if (b >= 0xe0) len = 3;
      else if (b >= 0xc0) len = 2;
      const key = String.fromCharCode(...bytes.subarray(i, i + len));
      const id = this.lookup.get(key);
      if (id !== undefined) tokens.push(id);
      else for (const byte of bytes.subarray(i, i + len)) tokens.push(byte + 3);
      i += len;
    }
    // Merge the best-scoring adjacent pair until none is in the vocabulary.
    const start = opts.bos !== false ? 1 : 0;
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestAt = -1;
      for (let i = start; i + 1 < tokens.length; i++) {
        const key = (this.latin1[tokens[i] ?? 0] ?? '') + (this.latin1[tokens[i + 1] ?? 0] ?? '');
        const id = this.lookup.get(key);
        if (id !== undefined && (this.scores[id] ?? -Infinity) > bestScore) {
          bestScore = this.scores[id] ?? -Infinity;
          bestId = id;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      tokens.splice(bestAt, 2, bestId);
    }
    return tokens;
  }

  /** The bytes token `id` prints after token `prev` (run.c: strip the leading space after BOS; <0xXX> is a raw byte). */
  pieceBytes(prev: number, id: number): Uint8Array {
    if (id === this.bosId || this.eosIds.includes(id)) return new Uint8Array(0);
    const piece = this.pieces[id];
    if (piece === undefined) throw new RuntimeError('bad-input', `token id ${id} is outside the vocabulary`);
    const m = byteToken.exec(this.latin1[id] ?? '');
    if (m?.[1] !== undefined) return new Uint8Array([parseInt(m[1], 16)]);
    if (prev === this.bosId && piece[0] === 0x20) return piece.subarray(1);
    return piece;
  }

  streamDecoder(context: number[]): StreamDecoder {
    let prev = context.length > 0 ? (context[context.length - 1] ?? this.bosId) : this.bosId;
    const utf8 = new TextDecoder('utf-8');
    return {
      push: (id) => {
        const out = utf8.decode(this.pieceBytes(prev, id), { stream: true });
        prev = id;
        return out;
      },
      flush: () => utf8.decode(),
    };
  }

  decode(ids: number[]): string {
    const d = this.streamDecoder([this.bosId]);
    return ids.map((id) => d.push(id)).join('') + d.flush();
  }
}
