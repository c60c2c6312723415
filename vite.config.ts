// Builds the Svelte web app (volunteer, chat, dashboard) served by `bouquet serve`.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('./web/', import.meta.url));

// Every `web/*.html` is a page of the multi-page app (landing, dashboard, volunteer, chat, and the
// plain headless pages): adding an entry is adding a file, nobody edits this list.
const pages = Object.fromEntries(
  readdirSync(webRoot)
    .filter((name) => name.endsWith('.html'))
    .map((name) => [name.slice(0, -'.html'.length), `${webRoot}${name}`]),
);

export default defineConfig({
  root: 'web',
  publicDir: '../public',
  plugins: [svelte()],
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
