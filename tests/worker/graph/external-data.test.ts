// Graphs whose weights travel as onnxruntime external data: the protobuf holds none of them, and the session computes the same.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../worker/graph/index.ts';

function matmulGraph(): GraphBuilder {
  const g = new GraphBuilder('mm');
  g.input('x', 'float32', [1, 256]);
  const w = new Float32Array(256 * 256).map((_, i) => Math.sin(i) / 16);
  const bias = new Float32Array([0.5]);
  const y = g.op('MatMul', ['x', g.init('w', 'float32', [256, 256], w)]);
  g.node('Add', [y, g.init('b', 'float32', [1], bias)], ['y']);
  g.output('y', 'float32', [1, 256]);
  return g;
}

describe('external data', () => {
  it('keeps large initializers out of the protobuf (small ones stay inside) and gives the inline graph\'s output exactly', async () => {
    const g = matmulGraph();
    const inline = g.toBytes();
    const model = g.toModel();
    expect(model.externalData.map((t) => t.data.byteLength)).toEqual([256 * 256 * 4]);
    expect(model.bytes.byteLength).toBeLessThan(1024);
    expect(inline.byteLength).toBeGreaterThan(256 * 256 * 4);
    const x = new ort.Tensor('float32', new Float32Array(256).map((_, i) => Math.cos(i)), [1, 256]);
    const a = await ort.InferenceSession.create(inline, { executionProviders: ['wasm'] });
    const b = await ort.InferenceSession.create(model.bytes, { executionProviders: ['wasm'], externalData: model.externalData });
    const ya = (await a.run({ x })).y?.data as Float32Array;
    const yb = (await b.run({ x })).y?.data as Float32Array;
    expect(Array.from(yb)).toEqual(Array.from(ya));
    await a.release();
    await b.release();
  });

  it('a graph that names external data it was not given fails to load (no silent zeros)', async () => {
    const model = matmulGraph().toModel();
    await expect(ort.InferenceSession.create(model.bytes, { executionProviders: ['wasm'] })).rejects.toThrow();
  });
});
