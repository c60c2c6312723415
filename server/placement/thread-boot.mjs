// Worker-thread entry for placement policies run off the coordinator's event loop: the built JS when
// it lies beside this file (the package), else the TypeScript sources through tsx (a checkout; a
// worker does not inherit the main thread's loader).
import { existsSync } from 'node:fs';

const built = new URL('./thread-worker.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./thread-worker.ts');
}
