// The web app over HTTP: precompressed .gz files to gzip clients with the original type, the plain file to others, nothing outside the folder.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type BouquetServer } from '../../server/index.ts';
import { stories260K } from './helpers.ts';

let webDir: string;
let server: BouquetServer;
const wasm = new Uint8Array(64 * 1024).fill(7);

// fetch() would decode gzip itself; a raw request shows what travels.
function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  webDir = await mkdtemp(path.join(tmpdir(), 'bouquet-static-'));
  await mkdir(path.join(webDir, 'ort'));
  await writeFile(path.join(webDir, 'ort', 'x.wasm'), wasm);
  await writeFile(path.join(webDir, 'ort', 'x.wasm.gz'), gzipSync(wasm));
  await writeFile(path.join(webDir, 'dashboard.html'), '<!doctype html><title>dash</title>');
  await writeFile(path.join(webDir, 'dashboard.html.gz'), gzipSync('<!doctype html><title>dash</title>'));
  await writeFile(path.join(webDir, 'plain.js'), 'console.log(1)');
  server = await createServer({ port: 0, model: stories260K, logger: 'silent', webDir });
});

afterAll(async () => {
  await server.close();
  await rm(webDir, { recursive: true, force: true });
});

describe('web app static files', () => {
  it('sends the precompressed file to a gzip client, with the original content type', async () => {
    const r = await get(`${server.url}/ort/x.wasm`, { 'Accept-Encoding': 'gzip, br' });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers['content-type']).toBe('application/wasm');
    expect(r.headers.vary).toMatch(/Accept-Encoding/i);
    expect(r.body.length).toBeLessThan(wasm.length / 10);
    expect(new Uint8Array(gunzipSync(r.body))).toEqual(wasm);
    expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
  });

  it('sends the file itself to a client without gzip, for a byte range, and where no .gz exists', async () => {
    const plain = await get(`${server.url}/ort/x.wasm`, {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBe(wasm.length);
    const refused = await get(`${server.url}/ort/x.wasm`, { 'Accept-Encoding': 'gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    const range = await get(`${server.url}/ort/x.wasm`, { 'Accept-Encoding': 'gzip', Range: 'bytes=0-9' });
    expect(range.status).toBe(206);
    expect(range.body.length).toBe(10);
    const js = await get(`${server.url}/plain.js`, { 'Accept-Encoding': 'gzip' });
    expect(js.headers['content-encoding']).toBeUndefined();
    expect(js.body.toString()).toBe('console.log(1)');
  });

  it('serves /page as page.html compressed, and nothing outside the folder', async () => {
    const page = await get(`${server.url}/dashboard`, { 'Accept-Encoding': 'gzip' });
    expect(page.headers['content-encoding']).toBe('gzip');
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const outside = await get(`${server.url}/..%2f..%2fetc%2fpasswd`, { 'Accept-Encoding': 'gzip' });
    expect(outside.status).toBe(404);
  });
});
