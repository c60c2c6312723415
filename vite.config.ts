// Builds the Svelte web app (volunteer, chat, dashboard) served by `bouquet serve`.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
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

/**
 * Copies onnxruntime-web's wasm binaries and their loaders to `<outDir>/ort/`: the block worker
 * loads them from `/ort/` (its `wasmPaths`), so the built app is complete without node_modules.
 */
function copyOrtRuntime(): Plugin {
  let outDir = '';
  return {
    name: 'bouquet-copy-ort-runtime',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const dest = path.join(outDir, 'ort');
      mkdirSync(dest, { recursive: true });
      for (const name of readdirSync(ortDist)) {
        if (/^ort-wasm-.*\.(wasm|mjs)$/.test(name)) copyFileSync(path.join(ortDist, name), path.join(dest, name));
      }
    },
  };
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
