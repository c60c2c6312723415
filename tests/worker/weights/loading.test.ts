// Weight loading: sharded safetensors with an index, HTTP Range reads (same bytes as file reads), offline errors.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpModelFiles, openModelWeights, RuntimeError } from '../../../worker/index.ts';
import { folderModelFiles } from '../../../server/models/index.ts';
import { startStaticServer, type StaticServer } from '../../../tools/browser/chromium.ts';
import { safetensorsBytes, tinyConfigJson, tinyDefaults, tinyTensors, writeTinyModel } from '../support/tiny-model.ts';

describe('weight loading', () => {
  let server: StaticServer;
  let requests = 0;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': '../shared/models' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('reads a sharded checkpoint through its index, tensor for tensor the same as one file', async () => {
    const single = await openModelWeights(folderModelFiles(await writeTinyModel()));
    const dir = await mkdtemp(join(tmpdir(), 'bouquet-shards-'));
    const all = tinyTensors(tinyDefaults);
    const names = Object.keys(all);
    const shards = [names.slice(0, 10), names.slice(10)];
    const weightMap: Record<string, string> = {};
    for (const [i, group] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const part = Object.fromEntries(group.map((n) => [n, all[n] ?? { dtype: 'F32' as const, shape: [], data: new Float32Array(0) }]));
      await writeFile(join(dir, file), safetensorsBytes(part));
      for (const n of group) weightMap[n] = file;
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await writeFile(join(dir, 'config.json'), JSON.stringify(tinyConfigJson(tinyDefaults)));
    const sharded = await openModelWeights(folderModelFiles(dir));
    for (let b = 0; b < 3; b++) expect(await sharded.block(b)).toEqual(await single.block(b));
    expect(await sharded.lmHead()).toEqual(await single.lmHead());
  });

  it('reads only the requested tensors over HTTP Range requests, same values as from disk', async () => {
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const http = await openModelWeights(httpModelFiles(`${server.url}/models/stories260K-hf/`, counting));
    const disk = await openModelWeights(folderModelFiles('../shared/models/stories260K-hf'));
    const before = requests;
    expect(await http.block(3)).toEqual(await disk.block(3));
    // One ranged GET per tensor of the block (9), nothing else.
    expect(requests - before).toBe(9);
    const l2c = await openModelWeights(httpModelFiles(`${server.url}/models/stories260K/`), { kind: 'llama2c', checkpoint: 'stories260K.bin' });
    const l2cDisk = await openModelWeights(folderModelFiles('../shared/models/stories260K'));
    expect(await l2c.block(4)).toEqual(await l2cDisk.block(4));
  });

  it('a missing model over HTTP is bad-model; an unreachable server is offline', async () => {
    const e1 = await openModelWeights(httpModelFiles(`${server.url}/models/nothing-here/`)).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(RuntimeError);
    expect((e1 as RuntimeError).code).toBe('bad-model');
    const closed = await startStaticServer({ '/': tmpdir() });
    const url = closed.url;
    await closed.close();
    const e2 = await openModelWeights(httpModelFiles(`${url}/m/`)).catch((e: unknown) => e);
    expect((e2 as RuntimeError).code).toBe('offline');
  });
});
