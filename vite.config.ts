// Builds the Svelte web app (volunteer, chat, dashboard) served by `bouquet serve`.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';

const webRoot = fileURLToPath(new URL('./web/', import.meta.url));

// Every `web/*.html` is a page of the multi-page app (landing, dashboard, volunteer, chat, and the
// plain headless pages): adding an entry is adding a file, nobody edits this list.
const pages = Object.fromEntries(
  readdirSync(webRoot)
    .filter((name) => name.endsWith('.html'))
    .map((name) => [name.slice(0, -'.html'.length), `${webRoot}${name}`]),
);

const ortDist = fileURLToPath(new URL('./node_modules/onnxruntime-web/dist/', import.meta.url));

// The one onnxruntime-web build the pages load: the block worker imports 'onnxruntime-web/webgpu',
// whose single wasm (asyncify) serves both its WebGPU and its wasm backend. The JSEP, JSPI and plain
// builds are for other entry points nobody here imports.
const ortFiles = /^ort-wasm-simd-threaded\.asyncify\.(wasm|mjs)$/;

/**
 * Copies that onnxruntime-web build to `<outDir>/ort/` (the block worker's `wasmPaths`), so the
 * built app is complete without node_modules, and drops the copy vite would emit for the bundle's
 * own `new URL(…wasm, import.meta.url)`: the worker never loads it (wasmPaths wins) and it is 26 MB.
 */
function copyOrtRuntime(): Plugin {
  let outDir = '';
  return {
    name: 'bouquet-copy-ort-runtime',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    generateBundle(_options, bundle) {
      for (const [name, file] of Object.entries(bundle)) {
        if (file.type === 'asset' && /(^|\/)ort-wasm-[^/]*\.wasm$/.test(name)) delete bundle[name];
      }
    },
    closeBundle() {
      const dest = path.join(outDir, 'ort');
      mkdirSync(dest, { recursive: true });
      for (const name of readdirSync(ortDist)) {
        if (ortFiles.test(name)) copyFileSync(path.join(ortDist, name), path.join(dest, name));
      }
      precompress(outDir);
    },
  };
}

/**
 * Writes `<file>.gz` beside every .wasm/.js/.mjs/.css/.html/.json/.svg of the built app (gzip level
 * 9, once at build time), which the server sends to clients that accept gzip.
 */
function precompress(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) precompress(file);
    else if (/\.(wasm|m?js|css|html|json|svg)$/.test(entry.name)) writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
  }
}

export default defineConfig({
  root: 'web',
  publicDir: '../public',
  plugins: [svelte(), copyOrtRuntime()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    rolldownOptions: { input: pages },
  },
  worker: { format: 'es' },
  server: {
    headers: {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    },
  },
});
