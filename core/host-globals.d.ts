// The few host APIs core/ uses that every place it runs has (browsers, workers, Node 20), declared minimally so core/ and sim/ compile with the ES lib only (no DOM, no Node types).

/** A monotonic clock, ms (performance.now in browsers, workers and Node). */
// eslint-disable-next-line no-var -- an ambient global is declared with var (what lib.dom.d.ts does)
declare var performance: { now(): number };

/** Timers: handles are opaque here. */
declare function setTimeout(handler: () => void, delayMs?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function queueMicrotask(callback: () => void): void;

/** UTF-8 text codecs (frame payloads carry strings as UTF-8). */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
