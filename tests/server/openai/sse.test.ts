// The SSE writer: OpenAI's event framing, [DONE] at the end, and the reader going away or falling behind cancels what feeds it.
import { describe, expect, it } from 'vitest';
import { SseWriter, StopMatcher, type SseResponse } from '../../../server/openai/index.ts';

/** A stand-in for node:http's ServerResponse (what the writer touches of it), recording what is written. */
class RecordingResponse implements SseResponse {
  status = 0;
  headers: Record<string, string> = {};
  body = '';
  ended = false;
  destroyed = false;
  writableLength = 0;
  readonly #close: (() => void)[] = [];
  get writableEnded(): boolean {
    return this.ended;
  }
  writeHead(status: number, headers: Record<string, string>): void {
    this.status = status;
    this.headers = headers;
  }
  write(chunk: string): boolean {
    this.body += chunk;
    return true;
  }
  end(): void {
    this.ended = true;
  }
  on(_event: 'close', listener: () => void): void {
    this.#close.push(listener);
  }
  /** The socket closes (the reader went away). */
  close(): void {
    this.destroyed = true;
    for (const l of this.#close) l();
  }
}

describe('SseWriter', () => {
  it('writes text/event-stream events and ends with data: [DONE]', () => {
    const res = new RecordingResponse();
    const w = new SseWriter(res, { 'Access-Control-Allow-Origin': 'https://a.example' });
    expect(res.status).toBe(200);
    expect(res.headers['Content-Type']).toMatch(/^text\/event-stream/);
    expect(res.headers['Cache-Control']).toBe('no-cache');
    expect(res.headers['Access-Control-Allow-Origin']).toBe('https://a.example');
    expect(w.send({ choices: [{ text: 'a\nb' }] })).toBe(true);
    w.done();
    expect(res.body).toBe('data: {"choices":[{"text":"a\\nb"}]}\n\ndata: [DONE]\n\n');
    expect(res.ended).toBe(true);
    expect(w.send({ late: true })).toBe(false);
    res.close();
  });

  it('tells the caller once when the reader goes away before the end, and writes nothing after', () => {
    const res = new RecordingResponse();
    const w = new SseWriter(res);
    let gone = 0;
    w.onGone(() => gone++);
    w.send({ n: 1 });
    res.close();
    res.close();
    expect(gone).toBe(1);
    expect(w.closed).toBe(true);
    expect(w.send({ n: 2 })).toBe(false);
    let late = 0;
    w.onGone(() => late++);
    expect(late).toBe(1);
    expect(res.body).toBe('data: {"n":1}\n\n');
  });

  it('cuts a reader that lets more than the bound pile up', () => {
    const res = new RecordingResponse();
    const w = new SseWriter(res, {}, 100);
    let gone = false;
    w.onGone(() => { gone = true; });
    expect(w.send({ n: 1 })).toBe(true);
    res.writableLength = 101;
    expect(w.send({ n: 2 })).toBe(false);
    expect(gone).toBe(true);
    expect(res.ended).toBe(true);
    expect(res.body).not.toContain('[DONE]');
  });

  it('refuses a non-finite number rather than sending null', () => {
    const w = new SseWriter(new RecordingResponse());
    expect(() => w.send({ x: Number.NaN })).toThrow();
  });
});

describe('StopMatcher', () => {
  it('holds back a tail that may begin a stop sequence and cuts at the first match across pieces', () => {
    const m = new StopMatcher(['THE END', '\n\n']);
    expect(m.push('Once upon a time. T')).toBe('Once upon a time. ');
    expect(m.push('HE')).toBe('');
    expect(m.push(' ENDING')).toBe('');
    expect(m.stopped).toBe(true);
    expect(m.push('more')).toBe('');
    expect(m.flush()).toBe('');
  });

  it('releases held text that did not become a stop sequence, and at the end', () => {
    const m = new StopMatcher(['\n\n']);
    expect(m.push('a\n')).toBe('a');
    expect(m.push('b')).toBe('\nb');
    expect(m.push('c\n')).toBe('c');
    expect(m.flush()).toBe('\n');
    expect(m.stopped).toBe(false);
    const none = new StopMatcher([]);
    expect(none.push('x\n\n')).toBe('x\n\n');
  });

  it('cuts at the earliest of several stop sequences', () => {
    const m = new StopMatcher(['dog', 'cat']);
    expect(m.push('a cat and a dog')).toBe('a ');
  });
});
