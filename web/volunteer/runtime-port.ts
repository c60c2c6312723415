// Adapts worker/'s BlockRuntime (in-thread or Comlink proxy) to the BlockExecutor the session host drives.
import { PeerError, type HiddenStates, type PeerErrorCode } from '../../core/protocol/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import type { BlockRuntime } from '../../worker/index.ts';
import type { BlockExecutor } from './session-host.ts';

/** Maps a runtime error code to the peer protocol's (the client fails over on most of them). */
export function peerCodeForRuntimeCode(code: string | undefined): PeerErrorCode {
  switch (code) {
    case 'cache-full':
    case 'sequence-too-long':
    case 'unknown-session':
      return code;
    case 'bad-input':
    case 'session-exists':
      return 'bad-frame';
    default:
      return 'internal';
  }
}

function asPeerError(err: unknown): PeerError {
  if (err instanceof PeerError) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new PeerError(peerCodeForRuntimeCode(typeof code === 'string' ? code : undefined), message);
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
