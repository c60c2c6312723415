// Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, `data: [DONE]` at the end, bounded when the reader is slow.
import { encodeJson } from '../../core/api/index.ts';

/** The part of a node:http ServerResponse the writer uses. */
export interface SseResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  readonly writableLength: number;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  on(event: 'close', listener: () => void): unknown;
}

/** Bytes a reader may leave unread before the stream is cut (a few thousand chunks). */
export const maxSseBufferedBytes = 1 << 20;

/**
 * One event stream. `send` writes a chunk; `done` writes `data: [DONE]` and ends. When the reader
 * goes away (the socket closes before `done`) or lets more than `maxBufferedBytes` pile up,
 * `onGone` callbacks run once, so the caller cancels the generation behind the stream.
 */
export class SseWriter {
  readonly #res: SseResponse;
  readonly #maxBufferedBytes: number;
  readonly #gone: (() => void)[] = [];
  #ended = false;
  #lost = false;

  constructor(res: SseResponse, extraHeaders: Record<string, string> = {}, maxBufferedBytes = maxSseBufferedBytes) {
    this.#res = res;
    this.#maxBufferedBytes = maxBufferedBytes;
    res.writeHead(200, {
      ...extraHeaders,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      // Proxies (nginx) would otherwise hold tokens back until their buffer fills.
      'X-Accel-Buffering': 'no',
    });
    res.on('close', () => {
      if (!this.#ended) this.#lose();
    });
  }

  /** True once the stream ended or its reader is gone: nothing more is written. */
  get closed(): boolean {
    return this.#ended || this.#lost;
  }

  /** Runs `listener` once when the reader is gone before the end. */
  onGone(listener: () => void): void {
    if (this.#lost) listener();
    else this.#gone.push(listener);
  }

  /** Writes one event with `data` as JSON; false (and nothing written) when the stream is closed. */
  send(data: unknown): boolean {
    return this.#write(`data: ${encodeJson(data)}\n\n`);
  }

  /** Writes `data: [DONE]` and ends the response. */
  done(): void {
    if (this.closed) return;
    this.#write('data: [DONE]\n\n');
    this.#ended = true;
    this.#res.end();
  }

  /** Ends the response without `[DONE]` (after an error event: the reader knows the stream failed). */
  end(): void {
    if (this.closed) return;
    this.#ended = true;
    this.#res.end();
  }

  #write(text: string): boolean {
    if (this.closed || this.#res.destroyed || this.#res.writableEnded) return false;
    if (this.#res.writableLength > this.#maxBufferedBytes) {
      this.#lose();
      this.#ended = true;
      this.#res.end();
      return false;
    }
    this.#res.write(text);
    return true;
  }

  #lose(): void {
    if (this.#lost) return;
    this.#lost = true;
    for (const l of this.#gone.splice(0)) l();
  }
}
