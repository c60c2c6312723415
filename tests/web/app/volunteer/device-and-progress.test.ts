// Volunteer page logic: what the device can give (WebGPU or wasm), the default budget, the download ETA.
import { describe, expect, it } from 'vitest';
import { placementMemoryBytes } from '../../../../core/model/index.ts';
import { maxBlocksFor } from '../../../../core/placement/index.ts';
import { budgetRange, describeDevice } from '../../../../web/app/volunteer/device-probe.ts';
import { estimateEtaMs } from '../../../../web/app/volunteer/download-eta.ts';

const gib = 1024 ** 3;

function nav(over: Record<string, unknown>): Navigator {
  return { hardwareConcurrency: 8, ...over } as unknown as Navigator;
}

describe('device probe', () => {
  it('describes a WebGPU adapter with its limits and shader-f16', async () => {
    const adapter = {
      features: new Set(['shader-f16']),
      limits: { maxBufferSize: 2 * gib, maxStorageBufferBindingSize: gib },
      info: { vendor: 'nvidia', architecture: 'ampere', description: '' },
    };
    const d = await describeDevice(nav({ gpu: { requestAdapter: () => Promise.resolve(adapter) }, deviceMemory: 8 }), true);
    expect(d.gpu).toEqual({ vendor: 'nvidia', architecture: 'ampere', description: '', maxBufferSize: 2 * gib, maxStorageBufferBindingSize: gib, shaderF16: true, fallbackAdapter: false });
    expect(d.wasmThreads).toBe(4);
    expect(d.deviceMemoryBytes).toBe(8 * gib);
  });

  it('says why WebGPU is unusable and falls back to single-threaded wasm without cross-origin isolation', async () => {
    const none = await describeDevice(nav({}), false);
    expect(none.gpu).toBeNull();
    expect(none.gpuUnavailableReason).toContain('no WebGPU');
    expect(none.wasmThreads).toBe(1);
    const noAdapter = await describeDevice(nav({ gpu: { requestAdapter: () => Promise.resolve(null) } }), true);
    expect(noAdapter.gpuUnavailableReason).toContain('no WebGPU adapter');
    const throws = await describeDevice(nav({ gpu: { requestAdapter: () => Promise.reject(new Error('boom')) } }), true);
    expect(throws.gpuUnavailableReason).toBe('requestAdapter failed: boom');
  });

  it('defaults the budget to a quarter of the reported memory, 1 GiB when the browser does not say', async () => {
    expect(budgetRange(await describeDevice(nav({ deviceMemory: 8 }), true))).toMatchObject({ defaultBytes: 2 * gib, maxBytes: 8 * gib });
    expect(budgetRange(await describeDevice(nav({}), true))).toMatchObject({ defaultBytes: gib, maxBytes: 8 * gib });
    // A small device still gets the minimum.
    expect(budgetRange(await describeDevice(nav({ deviceMemory: 0.5 }), true)).defaultBytes).toBe(256 * 1024 ** 2);
  });

  it('sizes the default budget for the model: twice its blocks and a few sessions of cache at the runtime\'s measured cost, within a quarter of the device', async () => {
    const mib = 1024 ** 2;
    const tiny = { numBlocks: 5, blockBytes: 60 * 1024, cacheBytesPerBlock: 256 * 1024 }; // stories260K-sized
    const small = budgetRange(await describeDevice(nav({ deviceMemory: 8 }), true), tiny);
    expect(small.defaultBytes).toBeLessThan(512 * mib); // not gigabytes for a 1 MB model
    // The whole tab: what placement counts for twice its blocks and 8 sessions, once the runtime's own cost is taken off.
    expect(placementMemoryBytes(small.defaultBytes, 'wasm')).toBeGreaterThanOrEqual(2 * 5 * (60 * 1024 + 8 * 256 * 1024));
    expect(small.defaultBytes % small.stepBytes).toBe(0);
    // The smallest choice still holds one block and one session's cache.
    expect(maxBlocksFor(placementMemoryBytes(small.minBytes, 'wasm'), tiny)).toBeGreaterThanOrEqual(1);
    const big = { numBlocks: 32, blockBytes: 200 * mib, cacheBytesPerBlock: 64 * mib };
    expect(budgetRange(await describeDevice(nav({ deviceMemory: 8 }), true), big).defaultBytes).toBe(2 * gib); // capped at a quarter of 8 GiB
    expect(budgetRange(await describeDevice(nav({}), true), big).defaultBytes).toBe(8 * gib); // unknown device: capped by the slider's end
  });
});

describe('download ETA', () => {
  it('extrapolates the recent rate, and has no estimate without progress', () => {
    expect(estimateEtaMs([{ atMs: 0, fraction: 0 }])).toBeNull();
    expect(estimateEtaMs([{ atMs: 0, fraction: 0.2 }, { atMs: 1000, fraction: 0.2 }])).toBeNull();
    expect(estimateEtaMs([{ atMs: 0, fraction: 0 }, { atMs: 1000, fraction: 0.25 }])).toBeCloseTo(3000);
    // Only the last ~5 s count: a slow start does not drag the estimate.
    expect(estimateEtaMs([{ atMs: 0, fraction: 0 }, { atMs: 10_000, fraction: 0.1 }, { atMs: 12_000, fraction: 0.5 }])).toBeCloseTo(2500);
  });
});
