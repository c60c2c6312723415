// ModelFiles over HTTP: Range requests for tensor bytes, optionally cached in IndexedDB (browser).
import { RuntimeError } from '../errors.ts';
import type { ByteSource, ModelFiles } from './types.ts';

/** A remote file read with HTTP Range requests. */
export class HttpByteSource implements ByteSource {
  private knownSize: number | undefined;
  // A wrapper, not `fetch` itself: a stored fetch called as a method throws 'Illegal invocation' in browsers.
  constructor(readonly name: string, private readonly fetchFn: typeof fetch = (input, init) => fetch(input, init)) {}

  async size(): Promise<number> {
    if (this.knownSize !== undefined) return this.knownSize;
    const res = await this.request({ method: 'HEAD' });
    const len = Number(res.headers.get('content-length'));
    if (!Number.isFinite(len) || len < 0) throw new RuntimeError('bad-model', `${this.name}: the server did not say the file size (no Content-Length)`);
    this.knownSize = len;
    return len;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const res = await this.request({ headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    const body = new Uint8Array(await res.arrayBuffer());
    // A server that ignores Range answers 200 with the whole file: slice it.
    const bytes = res.status === 206 ? body : body.subarray(offset, offset + length);
    if (bytes.byteLength !== length) {
      throw new RuntimeError('bad-weights', `${this.name}: wanted ${length} bytes at offset ${offset}, got ${bytes.byteLength} (truncated file?)`);
    }
    return bytes;
  }

  private async request(init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      const f = this.fetchFn;
      res = await f(this.name, init);
    } catch (e) {
      throw new RuntimeError('offline', `${this.name}: could not fetch (${e instanceof Error ? e.message : String(e)}); check the network or use a local model folder`);
    }
    if (res.status === 404) throw new RuntimeError('bad-model', `${this.name}: not found (404)`);
    if (!res.ok) throw new RuntimeError('offline', `${this.name}: HTTP ${res.status}`);
    return res;
  }
}

/** The files of a model under a URL prefix (`https://host/models/x/`). */
export function httpModelFiles(baseUrl: string, fetchFn: typeof fetch = (input, init) => fetch(input, init)): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    location: base,
    open: (name) => new HttpByteSource(base + name, fetchFn),
    exists: async (name) => {
      try {
        const res = await fetchFn(base + name, { method: 'HEAD' });
        return res.ok;
      } catch (e) {
        throw new RuntimeError('offline', `${base}${name}: could not fetch (${e instanceof Error ? e.message : String(e)})`);
      }
    },
  };
}
