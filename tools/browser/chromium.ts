// Test support: a static HTTP server on 127.0.0.1 with COOP/COEP (and Range), and a headless Chromium launcher.
//
//   const server = await startStaticServer({ '/': distDir, '/ort/': ortDistDir });   // prefix → folder
//   const browser = await launchChromium({ webgpu: true });
//   const page = await browser.newPage();
//   await page.goto(server.url + '/index.html');
//   ...
//   await browser.close(); await server.close();
//
// Pages are cross-origin isolated (multi-threaded wasm works). Only loopback is used.
import { BouquetError } from '../../core/errors/index.ts';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** A running static server. */
export interface StaticServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  close(): Promise<void>;
}

const mime: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/**
 * Serves folders under URL prefixes (longest prefix wins; '/' → index.html) with
 * Cross-Origin-Opener-Policy/Embedder-Policy and Cross-Origin-Resource-Policy headers, HEAD and single
 * byte-range requests (206), on 127.0.0.1 and a free port.
 */
export async function startStaticServer(routes: Record<string, string>): Promise<StaticServer> {
  const table = Object.entries(routes)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const server = createServer((req, res) => {
    serve(table, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

async function serve(table: (readonly [string, string])[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  const route = table.find(([prefix]) => `${path}/`.startsWith(prefix) || path.startsWith(prefix));
  if (route === undefined) return notFound(res);
  const [prefix, dir] = route;
  let rel = path.slice(prefix.length - 1);
  if (rel === '/' || rel === '') rel = '/index.html';
  const file = normalize(join(dir, rel));
  if (file !== dir && !file.startsWith(dir + sep)) return notFound(res);
  const st = await stat(file).catch(() => null);
  if (st === null || !st.isFile()) return notFound(res);
  res.setHeader('Content-Type', mime[extname(file)] ?? 'application/octet-stream');
  res.setHeader('Accept-Ranges', 'bytes');
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  let start = 0;
  let end = st.size - 1;
  if (range !== null) {
    start = Number(range[1]);
    end = range[2] === '' || range[2] === undefined ? st.size - 1 : Math.min(Number(range[2]), st.size - 1);
    if (start > end || start >= st.size) {
      res.writeHead(416, { 'Content-Range': `bytes */${st.size}` });
      res.end();
      return;
    }
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${st.size}`, 'Content-Length': end - start + 1 });
  } else {
    res.writeHead(200, { 'Content-Length': st.size });
  }
  if (req.method === 'HEAD' || st.size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
}

/** Where Debian's Chromium lives (CI installs it with apt when missing). */
export const chromiumPath = '/usr/bin/chromium';

/** Launch flags from docs/platform-notes: headless, no sandbox (root), no background traffic, one merged --disable-features. */
export function chromiumArgs(opts: { webgpu?: boolean; extraArgs?: string[]; disableFeatures?: string[] } = {}): string[] {
  // Chromium keeps only the last --disable-features, so ours repeats playwright's quiet-startup entries.
  const features = [
    'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'MediaRouter', 'PaintHolding', 'ThirdPartyStoragePartitioning',
    'OptimizationHints', 'NetworkTimeServiceQuerying', 'AimEnabled', 'PreconnectToSearch', ...(opts.disableFeatures ?? []),
  ];
  return [
    '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--disable-features=${features.join(',')}`,
    ...(opts.webgpu === true ? ['--enable-unsafe-webgpu'] : []),
    ...(opts.extraArgs ?? []),
  ];
}

/** Launches headless Chromium (WebGPU through SwiftShader when `webgpu`). Close it with `browser.close()`. */
export async function launchChromium(opts: { webgpu?: boolean; extraArgs?: string[]; disableFeatures?: string[] } = {}): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new BouquetError('not-found', `Chromium is not installed at ${chromiumPath}: run \`apt-get install -y chromium\` (.ci/run does)`);
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs(opts) });
}
