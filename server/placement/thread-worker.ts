// Runs registered placement policies in a worker thread: the exact MILP (HiGHS, synchronous wasm)
// can take its whole time limit, which on the coordinator's thread would stall signaling and routes.
import { parentPort } from 'node:worker_threads';
import { UnknownPolicyError, placementPolicies, type PlacementPolicyName } from '../../core/placement/index.ts';
import { BouquetError, errorToWire } from '../../core/errors/index.ts';
import type { PlacementJob, PlacementJobReply } from './thread.ts';

const port = parentPort;
if (port === null) throw new BouquetError('internal', 'thread-worker.ts must run in a worker thread');
port.on('message', (job: PlacementJob) => {
  const run = async (): Promise<PlacementJobReply> => {
    try {
      if (!Object.hasOwn(placementPolicies, job.policy)) throw new UnknownPolicyError(job.policy, `unknown placement policy '${job.policy}'`);
      const policy = placementPolicies[job.policy as PlacementPolicyName](job.options);
      return { id: job.id, kind: 'result', result: await policy(job.snapshot) };
    } catch (e) {
      // Class, code and data cross as they are; the main thread rebuilds the same class.
      return { id: job.id, kind: 'error', error: errorToWire(e) };
    }
  };
  void run().then((reply) => port.postMessage(reply));
});
// Loading tsx and the policies takes a while; the coordinator starts a job's deadline only from here.
port.postMessage({ id: 0, kind: 'ready' } satisfies PlacementJobReply);
