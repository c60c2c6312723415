// The tokenizer contract shared by llama2.c's tokenizer.bin and Hugging Face tokenizer.json.

/** Turns text into token ids and back; decoding streams (a character split over byte tokens waits for its last byte). */
export interface TextTokenizer {
  readonly vocabSize: number;
  /** Beginning-of-sequence id. */
  readonly bosId: number;
  /** Ids that end generation. */
  readonly eosIds: number[];
  /** Encodes text; `bos` prepends the BOS id. Empty text gives just [BOS] (or []). */
  encode(text: string, opts?: { bos?: boolean }): number[];
  /** A streaming decoder that continues after `context` (the ids already printed, e.g. the prompt). */
  streamDecoder(context: number[]): StreamDecoder;
  /** Decodes ids (special tokens skipped). */
  decode(ids: number[]): string;
}

/** Incremental decoding for printing tokens as they come. */
export interface StreamDecoder {
  /** Text this token adds (may be '' while a multi-byte character is incomplete). */
  push(id: number): string;
  /** Whatever is still pending. */
  flush(): string;
}
