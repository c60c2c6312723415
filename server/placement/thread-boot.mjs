// Worker-thread entry for placement policies run off the coordinator's event loop: loads the
// TypeScript sources through tsx (a worker does not inherit the main thread's loader), then the thread.
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
