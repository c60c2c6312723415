// Adapts worker/'s BlockRuntime (in-thread or Comlink proxy) to the BlockExecutor the session host drives.
import { toPeerError, type PeerError, type HiddenStates } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { BlockRuntime } from '../../worker/runtime/index.ts';
import type { BlockExecutor } from './session-host.ts';

// A runtime error keeps its code (cache-full, bad-input, session-exists…): the client acts on it as is.
function asPeerError(err: unknown): PeerError {
  return toPeerError(err);
}

/** The session host's view of a BlockRuntime; `hiddenSize` is the model's d. */
export function executorFromRuntime(rt: BlockRuntime, hiddenSize: number): BlockExecutor {
  return {
    async openSession(sessionId: string, span: BlockSpan, maxLength: number): Promise<void> {
      await rt.openSession({ sessionId, blocks: span, maxLength }).catch((e: unknown) => { throw asPeerError(e); });
    },
    async step(sessionId: string, hidden: HiddenStates): Promise<HiddenStates> {
      // The runtime takes the buffer over (it may be transferred to a worker): hand it a copy.
      const r = await rt.step(sessionId, new Float32Array(hidden.data)).catch((e: unknown) => { throw asPeerError(e); });
      return { rows: r.tokens, cols: hiddenSize, data: r.hidden };
    },
    async closeSession(sessionId: string): Promise<void> {
      await rt.closeSession(sessionId).catch(() => undefined);
    },
  };
}
