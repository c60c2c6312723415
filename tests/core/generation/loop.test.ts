// The one generation loop: prefill then one step per token, stop tokens, the limit, streaming of tokens and text, abort.
import { describe, expect, it } from 'vitest';
import { isBouquetError } from '../../../core/errors/index.ts';
import { generateTokens, stopTokenIdsOf, type GenerationStep, type TokenDecoder } from '../../../core/generation/index.ts';

const vocab = 8;

/** A step whose logits favour `next(lastId)`; records every call (ids, position). */
function scriptedStep(next: (lastId: number) => number, calls: { ids: number[]; position: number }[] = []): GenerationStep {
  return (ids, position) => {
    calls.push({ ids: [...ids], position });
    const logits = new Float32Array(vocab);
    logits[next(ids[ids.length - 1] ?? 0)] = 5;
    return Promise.resolve(logits);
  };
}

/** Letters a…h for ids 0…7; id 7 is half a character, completed by the next token. */
function letters(): TokenDecoder {
  let pending = '';
  return {
    push: (id) => {
      if (id === 7) {
        pending = 'h';
        return '';
      }
      const out = pending + String.fromCharCode(97 + id);
      pending = '';
      return out;
    },
    flush: () => {
      const out = pending;
      pending = '';
      return out;
    },
  };
}

describe('generateTokens', () => {
  it('runs the prompt as one step at position 0, then one token per step at the next position', async () => {
    const calls: { ids: number[]; position: number }[] = [];
    const out = await generateTokens(scriptedStep((id) => (id + 1) % 6, calls), [1, 2, 3], { maxNewTokens: 3 });
    expect(out.ids).toEqual([4, 5, 0]);
    expect(out.stopReason).toBe('max-tokens');
    expect(calls).toEqual([{ ids: [1, 2, 3], position: 0 }, { ids: [4], position: 3 }, { ids: [5], position: 4 }]);
    expect(out.perTokenMs).toHaveLength(2);
  });

  it('ends at a stop token without emitting it', async () => {
    const streamed: number[] = [];
    const out = await generateTokens(scriptedStep((id) => id + 1), [1], {
      maxNewTokens: 50, stopTokenIds: [4], onToken: (t) => streamed.push(t.id),
    });
    expect(out.ids).toEqual([2, 3]);
    expect(streamed).toEqual([2, 3]);
    expect(out.stopReason).toBe('stop-token');
  });

  it('stops at once when the first sampled token is a stop token', async () => {
    const out = await generateTokens(scriptedStep(() => 2), [1], { maxNewTokens: 10, stopTokenIds: [2] });
    expect(out.ids).toEqual([]);
    expect(out.stopReason).toBe('stop-token');
  });

  it("takes the stop ids from the tokenizer's BOS and EOS ids", () => {
    expect(stopTokenIdsOf({ bosId: 1, eosIds: [2] })).toEqual([1, 2]);
    expect(stopTokenIdsOf({ bosId: 0, eosIds: [0, 5] })).toEqual([0, 5]);
  });

  it('streams text piece by piece (a split character waits for its end) and flushes at the end', async () => {
    const pieces: [string, number][] = [];
    const tokenTexts: string[] = [];
    const seq = [7, 0, 1, 7];
    let k = 0;
    const out = await generateTokens(scriptedStep(() => seq[k++] ?? 0), [2], {
      maxNewTokens: 4, decoder: letters(), onText: (p, i) => pieces.push([p, i]), onToken: (t) => tokenTexts.push(t.text),
    });
    expect(out.ids).toEqual([7, 0, 1, 7]);
    expect(tokenTexts).toEqual(['', 'ha', 'b', '']);
    expect(pieces).toEqual([['ha', 1], ['b', 2], ['h', 4]]);
    expect(out.text).toBe('habh');
  });

  it("aborting ends generation with code 'aborted' before the next step", async () => {
    const abort = new AbortController();
    let steps = 0;
    const step: GenerationStep = async (ids, position) => {
      steps++;
      return scriptedStep((id) => (id + 1) % 6)(ids, position);
    };
    const err = await generateTokens(step, [1], {
      maxNewTokens: 10, signal: abort.signal, onToken: (t) => { if (t.index === 1) abort.abort(); },
    }).catch((e: unknown) => e);
    expect(isBouquetError(err, 'aborted')).toBe(true);
    expect(steps).toBe(2);
  });

  it("refuses an empty prompt and a non-positive limit with code 'bad-input'", async () => {
    const step = scriptedStep(() => 0);
    expect(isBouquetError(await generateTokens(step, [], { maxNewTokens: 1 }).catch((e: unknown) => e), 'bad-input')).toBe(true);
    expect(isBouquetError(await generateTokens(step, [1], { maxNewTokens: 0 }).catch((e: unknown) => e), 'bad-input')).toBe(true);
  });
});
