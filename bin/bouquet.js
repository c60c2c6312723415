#!/usr/bin/env node
// Entry point of the `bouquet` command: the built JS in the package (dist/lib/), or in a checkout the
// TypeScript sources through tsx (a devDependency), so an edit takes effect without a build.
import { existsSync } from 'node:fs';

const sources = new URL('./main.ts', import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import(new URL('../dist/lib/bin/main.js', import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));
