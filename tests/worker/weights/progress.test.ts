// Download progress of weight loading: tensor bytes read over HTTP Range requests, from 0 to the requested parts' total.
import * as ort from 'onnxruntime-web';
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInThreadRuntime, httpModelFiles, openModelWeights, storedBytesOf, syntheticWeights, weightPartsToLoad, WeightReadMeter, type WeightLoadProgress,
} from '../../../worker/index.ts';
import { SafetensorsFile } from '../../../worker/weights/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { startStaticServer, type StaticServer } from '../../../tools/browser/chromium.ts';

const hfDir = '../shared/models/stories260K-hf';

describe('weight download progress', () => {
  let server: StaticServer;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': '../shared/models' });
  });
  afterAll(async () => {
    await server.close();
  });

  function expectMonotonic(events: WeightLoadProgress[], totalBytes: number): void {
    expect(events[0]).toEqual({ loadedBytes: 0, totalBytes });
    for (const [i, e] of events.entries()) {
      expect(e.totalBytes).toBe(totalBytes);
      if (i > 0) expect(e.loadedBytes).toBeGreaterThanOrEqual(events[i - 1]?.loadedBytes ?? Infinity);
    }
    expect(events.at(-1)?.loadedBytes).toBe(totalBytes);
  }

  it('loading blocks [1, 3) of stories260K-hf over HTTP reports 0 … exactly those blocks\' tensor bytes', async () => {
    const events: WeightLoadProgress[] = [];
    const meter = new WeightReadMeter((p) => events.push(p));
    const weights = await openModelWeights(meter.wrap(httpModelFiles(`${server.url}/models/stories260K-hf/`)));
    const blocks = { start: 1, end: 3 };
    const totalBytes = storedBytesOf(weights, weightPartsToLoad(blocks, false));
    // The same total straight from the header's data_offsets of every tensor of layers 1 and 2.
    const header = await SafetensorsFile.open(folderModelFiles(hfDir).open('model.safetensors'));
    const fromHeader = [...header.tensors.values()].filter((t) => /^model\.layers\.[12]\./.test(t.name)).reduce((s, t) => s + t.end - t.begin, 0);
    expect(totalBytes).toBe(fromHeader);
    expect(fromHeader).toBeGreaterThan(0);
    const fileBytes = (await stat(`${hfDir}/model.safetensors`)).size;
    expect(totalBytes).toBeLessThan(fileBytes);
    if (totalBytes === null) throw new Error('unreachable');

    meter.start(totalBytes);
    const rt = await createInThreadRuntime(ort, weights, { blocks, backends: ['wasm'], threads: 1, maxSessionTokens: 16 });
    meter.stop();
    await rt.dispose();
    expectMonotonic(events, totalBytes);
    // One report at the start, then one per tensor read (9 per block).
    expect(events).toHaveLength(1 + 9 * 2);
  });

  it('a client runtime on a llama2.c checkpoint counts embedding, final norm and (tied) head', async () => {
    const events: WeightLoadProgress[] = [];
    const meter = new WeightReadMeter((p) => events.push(p));
    const files = meter.wrap(httpModelFiles(`${server.url}/models/stories260K/`));
    const weights = await openModelWeights(files, { kind: 'llama2c', checkpoint: 'stories260K.bin' });
    const totalBytes = storedBytesOf(weights, weightPartsToLoad(undefined, true));
    const s = weights.shape;
    // The head is tied to the embedding here, so the embedding is read twice.
    expect(s.tiedEmbeddings).toBe(true);
    expect(totalBytes).toBe(4 * (2 * s.vocabSize * s.hiddenSize + s.hiddenSize));
    if (totalBytes === null) throw new Error('unreachable');
    meter.start(totalBytes);
    const rt = await createInThreadRuntime(ort, weights, { client: true, backends: ['wasm'], threads: 1, maxSessionTokens: 16 });
    meter.stop();
    await rt.dispose();
    expectMonotonic(events, totalBytes);
  });

  it('synthetic weights cannot tell their stored size', async () => {
    const w = syntheticWeights((await openModelWeights(folderModelFiles(hfDir))).shape, 1);
    expect(storedBytesOf(w, weightPartsToLoad({ start: 0, end: 1 }, false))).toBeNull();
  });
});
