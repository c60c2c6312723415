// The volunteer's worker runtime replaces a block worker whose start goes silent (seen in Firefox), and only then.
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { shapeFromLlama2cHeader } from '../../../core/model/index.ts';
import { isRuntimeError, type RuntimeInfo, type WeightLoadProgress } from '../../../worker/index.ts';
import { workerVolunteerRuntime } from '../../../web/volunteer/worker-runtime.ts';

// stories260K's llama2.c header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len.
const shape = shapeFromLlama2cHeader(new Int32Array([64, 172, 5, 8, 4, 512, 512]).buffer);

/** How a stand-in worker behaves on init: answer, never answer, or report progress for a while first. */
type Behaviour = 'answer' | 'silent' | { progressEveryMs: number; forMs: number };

/**
 * A stand-in for a block worker (named as such: no onnxruntime here): the real Comlink protocol over a
 * MessageChannel, with an `init` that answers, hangs, or reports weight progress before answering.
 */
function standInWorker(behaviour: Behaviour, log: string[], n: number): Worker {
  const { port1, port2 } = new MessageChannel();
  // Only what the volunteer runtime reads of RuntimeInfo (shape and backend) matters here.
  const info = { backend: 'wasm', backendNotes: [], threads: 1, shape, blocks: null, client: false } as unknown as RuntimeInfo;
  Comlink.expose({
    async init(_init: unknown, onProgress?: (p: WeightLoadProgress) => void): Promise<RuntimeInfo> {
      log.push(`init ${n}`);
      if (behaviour === 'silent') return new Promise<never>(() => undefined);
      if (behaviour !== 'answer') {
        const end = Date.now() + behaviour.forMs;
        while (Date.now() < end) {
          onProgress?.({ loadedBytes: 1, totalBytes: 2 });
          await new Promise((r) => setTimeout(r, behaviour.progressEveryMs));
        }
      }
      return info;
    },
    dispose: () => undefined,
    probeSpeed: () => ({ decodeMsPerBlock: 1, prefillMsPerBlock: { perTokenMs: 1, fixedMs: 0 } }),
  }, port2);
  const worker = port1 as unknown as Worker & { terminate(): void };
  worker.terminate = () => {
    log.push(`terminate ${n}`);
    port1.close();
    port2.close();
  };
  return worker;
}

function runtimeWith(behaviours: Behaviour[], silentStartMs: number): { runtime: ReturnType<typeof workerVolunteerRuntime>; log: string[] } {
  const log: string[] = [];
  let n = 0;
  const runtime = workerVolunteerRuntime({
    newWorker: () => {
      const b = behaviours[Math.min(n, behaviours.length - 1)] ?? 'answer';
      return standInWorker(b, log, n++);
    },
    model: { kind: 'synthetic', shape },
    backends: ['wasm'],
    silentStartMs,
  });
  return { runtime, log };
}

describe('workerVolunteerRuntime start watchdog', () => {
  const warn = console.warn;
  afterEach(() => {
    console.warn = warn;
  });

  it('ends a worker whose start never answers and starts a new one', async () => {
    console.warn = () => undefined;
    const { runtime, log } = runtimeWith(['silent', 'answer'], 100);
    const { backend } = await runtime.prepare();
    expect(backend).toBe('wasm');
    expect(log).toEqual(['init 0', 'terminate 0', 'init 1']);
  });

  it('gives up after three silent workers, saying so', async () => {
    console.warn = () => undefined;
    const { runtime, log } = runtimeWith(['silent'], 50);
    const failure = await runtime.prepare().then(() => null, (e: unknown) => e);
    expect(isRuntimeError(failure, 'backend-unavailable')).toBe(true);
    expect(String(failure)).toMatch(/block worker did not start: attempt 1: no answer for 50 ms; attempt 2: .*; attempt 3/);
    expect(log.filter((l) => l.startsWith('init'))).toHaveLength(3);
  });

  it('keeps a worker that is slow but reports weight progress', async () => {
    const { runtime, log } = runtimeWith([{ progressEveryMs: 20, forMs: 300 }], 100);
    await runtime.prepare();
    expect(log).toEqual(['init 0']);
  });
});
