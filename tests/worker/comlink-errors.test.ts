// The worker boundary: any Bouquet error thrown behind Comlink comes back as the same class, code and data.
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { BouquetError } from '../../core/errors/index.ts';
import { installErrorTransfer } from '../../worker/comlink-errors.ts';
import { errorSamples } from '../core/errors/samples.ts';

const ports: MessagePort[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

/** A Comlink endpoint over a real MessageChannel (structured clone, as to a Web Worker) whose `fail` throws `thrown(i)`. */
function remoteThrowing(thrown: (i: number) => unknown): Comlink.Remote<{ fail(i: number): void }> {
  installErrorTransfer();
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  Comlink.expose({ fail: (i: number) => { throw thrown(i); } }, port2);
  return Comlink.wrap<{ fail(i: number): void }>(port1);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return 'no error';
}

describe('errors across Comlink', () => {
  it('rebuild every error class as the same class with the same code and data', async () => {
    const samples = errorSamples();
    const remote = remoteThrowing((i) => samples[i]?.error);
    for (const [i, { error, kind }] of samples.entries()) {
      const back = await rejection(remote.fail(i));
      expect(back).toBeInstanceOf(kind);
      expect(back).toMatchObject({ code: error.code, message: error.message, data: error.data });
    }
  });

  it('send a non-Bouquet error as internal', async () => {
    const remote = remoteThrowing(() => new RangeError('index out of range'));
    const back = await rejection(remote.fail(0));
    expect(back).toBeInstanceOf(BouquetError);
    expect(back).toMatchObject({ code: 'internal' });
  });

  it('turn a malformed error from the other side into bad-frame, not a crash', async () => {
    installErrorTransfer();
    const { port1, port2 } = new MessageChannel();
    ports.push(port1, port2);
    // A stand-in endpoint (named as such) that answers every call with a forged error of an unknown code.
    port2.addEventListener('message', (ev: MessageEvent<{ id: string }>) => {
      port2.postMessage({ id: ev.data.id, type: 'HANDLER', name: 'throw', value: { isError: false, value: { bouquetError: { kind: 'RuntimeError', code: 'exploded', message: 'm' } } } });
    });
    port2.start();
    const remote = Comlink.wrap<{ fail(): void }>(port1);
    const back = await rejection(remote.fail());
    expect(back).toMatchObject({ code: 'bad-frame' });
  });
});
