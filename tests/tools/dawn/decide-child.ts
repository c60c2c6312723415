// Child of dawn.test.ts: one process per case (Dawn reads the Vulkan loader's env once): prints decideNodeBackend's answer as JSON.
import { isBouquetError } from '../../../core/errors/index.ts';
import { decideNodeBackend, type NodeBackendChoice } from '../../../tools/dawn/index.ts';

const choice = (process.argv[2] ?? 'auto') as NodeBackendChoice;
try {
  const d = await decideNodeBackend(choice);
  console.log(JSON.stringify({ backend: d.backend, reason: d.reason, software: d.adapter?.software ?? null }));
} catch (e) {
  console.log(JSON.stringify({ code: isBouquetError(e) ? e.code : 'not-a-bouquet-error', message: e instanceof Error ? e.message : String(e) }));
}
// dawn.node keeps the process alive once an adapter exists; the answer is out.
process.exit(0);
