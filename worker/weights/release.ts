// Frees weight arrays the moment onnxruntime holds its own copy: detaching an ArrayBuffer drops its memory at once, where an unreachable one waits for a GC that an idle worker may not run for minutes.

type Transferable = ArrayBuffer & { transfer?: (newByteLength?: number) => ArrayBuffer; detached?: boolean };

/**
 * Detaches the buffers under `arrays` (ArrayBuffer.prototype.transfer(0): Chromium 114+, Node 22+), so their bytes
 * are freed now instead of at the next garbage collection; the arrays read as empty afterwards. Only for arrays
 * nothing else uses, and only an array that covers its whole buffer is released (a view into a larger buffer may
 * share it with data still in use). Where the runtime lacks `transfer` (Node 20), the buffer is detached by moving it
 * into a structuredClone that is dropped at once: the bytes wait for the collector as before, and a use after release
 * fails the same way everywhere. Returns the bytes released.
 */
export function releaseBuffers(arrays: Iterable<ArrayBufferView>): number {
  const seen = new Set<ArrayBufferLike>();
  let bytes = 0;
  for (const a of arrays) {
    const buf = a.buffer as Transferable;
    if (seen.has(buf) || !(buf instanceof ArrayBuffer)) continue;
    // Released already (its length reads 0), or a view into a larger buffer.
    if (buf.detached === true || buf.byteLength === 0 || a.byteOffset !== 0 || a.byteLength !== buf.byteLength) continue;
    seen.add(buf);
    bytes += buf.byteLength;
    if (typeof buf.transfer === 'function') buf.transfer(0);
    else structuredClone(buf, { transfer: [buf] });
  }
  return bytes;
}
